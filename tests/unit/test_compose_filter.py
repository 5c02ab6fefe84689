"""The compose_service_env filter: what environment a Compose service really starts with."""
from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.almafrica.rollback.plugins.filter.compose import compose_service_env, parse_env_file

COMPOSE = yaml.safe_load("""
services:
  api:
    image: registry.local/almafrica-api:${ALMAFRICA_IMAGE_TAG}
    environment:
      - RunMigrations=true
      - ASPNETCORE_ENVIRONMENT=Production
  worker:
    environment:
      RunMigrations: false
""")
OVERRIDE = yaml.safe_load("""
services:
  api:
    environment:
      RunMigrations: "false"
""")


def test_list_and_mapping_forms_and_file_order():
    assert compose_service_env(COMPOSE, "api")["RunMigrations"] == "true"
    assert compose_service_env([COMPOSE, OVERRIDE], "api")["RunMigrations"] == "false"
    assert compose_service_env(COMPOSE, "worker")["RunMigrations"] == "false"  # YAML boolean as Compose writes it


def test_env_file_is_overridden_by_environment():
    env = compose_service_env(COMPOSE, "api", "# comment\nexport RunMigrations=false\nDB='x=y'\n")
    assert env["RunMigrations"] == "true" and env["DB"] == "x=y"
    assert parse_env_file('A="1 # not a comment"\nB=2 # comment\n\nC\n') == {"A": "1 # not a comment", "B": "2"}


def test_unknown_service():
    with pytest.raises(AnsibleFilterError, match="service 'web' is in none of the compose files"):
        compose_service_env(COMPOSE, "web")
