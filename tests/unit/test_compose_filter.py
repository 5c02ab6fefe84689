"""The Compose filters: what environment a service's container really starts with."""
from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.almafrica.rollback.plugins.filter.compose import (
    compose_service_env, compose_service_env_files, interpolate, parse_env_file)

COMPOSE = yaml.safe_load("""
services:
  api:
    image: registry.local/almafrica-api:${ALMAFRICA_IMAGE_TAG}
    env_file: [common.env, {path: api.env, required: false}]
    environment:
      - RunMigrations=true
      - ASPNETCORE_ENVIRONMENT=Production
  worker:
    env_file: worker.env
    environment:
      RunMigrations: false
      Mode: ${WORKER_MODE:-batch}
""")
OVERRIDE = yaml.safe_load("""
services:
  api:
    environment:
      RunMigrations: "${RUN_MIGRATIONS:-false}"
""")


def test_environment_list_and_mapping_forms_and_file_order():
    assert compose_service_env(COMPOSE, "api")["RunMigrations"] == "true"
    assert compose_service_env([COMPOSE, OVERRIDE], "api")["RunMigrations"] == "false"
    assert compose_service_env([COMPOSE, OVERRIDE], "api", [], "RUN_MIGRATIONS=true\n")["RunMigrations"] == "true"
    assert compose_service_env(COMPOSE, "worker")["RunMigrations"] == "false"  # YAML boolean as Compose writes it


def test_env_files_in_order_then_environment_wins():
    env = compose_service_env(COMPOSE, "worker", ["RunMigrations=true\nDB='x=y'\n", "DB=z\n"])
    assert env["RunMigrations"] == "false" and env["DB"] == "z"
    assert compose_service_env({"services": {"api": {"env_file": "a.env"}}}, "api", "RunMigrations=true") == {
        "RunMigrations": "true"}


def test_project_dotenv_feeds_interpolation_only():
    env = compose_service_env(COMPOSE, "worker", [], "WORKER_MODE=stream\nRunMigrations=true\n")
    assert env["Mode"] == "stream" and env["RunMigrations"] == "false"
    assert compose_service_env(COMPOSE, "worker")["Mode"] == "batch"


def test_env_file_paths():
    assert compose_service_env_files(COMPOSE, "api") == ["common.env", "api.env"]
    assert compose_service_env_files([COMPOSE, OVERRIDE], "worker") == ["worker.env"]


def test_interpolation_forms():
    v = {"A": "1", "E": ""}
    assert [interpolate(s, v) for s in ("${A}", "$A", "${E:-d}", "${E-d}", "${B-d}", "${A:+x}", "$$A", "${B}")] == [
        "1", "1", "d", "", "d", "x", "$A", ""]
    with pytest.raises(AnsibleFilterError, match="required variable B is not set: set it"):
        interpolate("${B:?set it}", v)


def test_env_file_parsing():
    text = '# c\nexport A="1 # not a comment"\nB=2 # comment\n\nC\n'
    assert parse_env_file(text) == {"A": "1 # not a comment", "B": "2"}


def test_unknown_service():
    with pytest.raises(AnsibleFilterError, match="service 'web' is in none of the compose files"):
        compose_service_env(COMPOSE, "web")
