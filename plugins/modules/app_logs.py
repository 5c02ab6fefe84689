#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: app_logs
short_description: Read an application's recent logs and fail when they show errors
version_added: 1.0.0
description:
  - Reads the last O(lines) lines of the application's container logs and looks for O(error_patterns), the way the
    rollback runbook's step 7 asks ("Check application logs for errors - C(docker logs almafrica-api --tail 100)").
  - With O(source=coolify), through the Coolify v4 API (C(GET /api/v1/applications/{uuid}/logs?lines=N)); Coolify
    answers 400 "Application is not running." for a stopped application, and the task fails saying so.
  - With O(source=compose), with C(docker compose logs --no-color --no-log-prefix --tail N <service>) run on the
    host of the task (community.docker has no module that returns logs).
  - The defaults match what an ASP.NET Core / EF Core / Npgsql application writes when it fails, and in particular
    when its database schema does not match it - C(fail:)/C(crit:) entries, C(Unhandled exception),
    C(Npgsql.PostgresException), SQLSTATE C(42703) (undefined column) and C(42P01) (undefined table),
    C(Microsoft.EntityFrameworkCore.Database.Command[20102]) (failed command).
  - Returns every matching line with its number and the log entry it belongs to (header and message), with the
    values of O(redact_values) and of O(api_token) replaced by C(********), and the number of lines read.
  - Fails when a line matches, unless O(fail_on_match=false).
author:
  - Almafrica platform team (@almafrica)
extends_documentation_fragment:
  - almafrica.rollback.attributes
  - almafrica.rollback.coolify
attributes:
  check_mode:
    support: full
    details:
      - The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
    details:
      - Nothing changes.
options:
  source:
    description:
      - Where the logs come from - V(coolify) (the Coolify API, needs O(api_url), O(api_token) and
        O(application_uuid)) or V(compose) (C(docker compose logs), needs O(service)).
    type: str
    choices: [ coolify, compose ]
    default: coolify
  api_url:
    description:
      - Base URL of the Coolify instance, for example V(http://127.0.0.1:8000); required with O(source=coolify).
      - When not set, the environment variable E(COOLIFY_API_URL) is used.
    type: str
    required: false
  api_token:
    description:
      - Coolify API token with the C(read) ability; required with O(source=coolify). Never logged, never returned,
        and its value is redacted from the log lines returned.
      - When not set, the environment variable E(COOLIFY_API_TOKEN) is used.
    type: str
    required: false
  application_uuid:
    description:
      - UUID of the Coolify application (O(source=coolify)).
    type: str
    aliases: [ uuid ]
  project_src:
    description:
      - Directory of the Compose project (O(source=compose)), passed as C(--project-directory).
    type: path
  project_name:
    description:
      - Name of the Compose project (O(source=compose)), passed as C(--project-name).
    type: str
  files:
    description:
      - Compose files (O(source=compose)), each passed as C(--file); relative to O(project_src).
    type: list
    elements: path
  service:
    description:
      - The Compose service whose logs are read (O(source=compose)), for example V(almafrica-api).
    type: str
  docker_cli:
    description:
      - Path of the C(docker) command (O(source=compose)); by default C(docker) is looked up in the PATH.
    type: path
  lines:
    description:
      - How many of the last log lines to read.
    type: int
    default: 100
  error_patterns:
    description:
      - Python regular expressions; a line that matches any of them is an error.
      - The default matches ASP.NET Core C(fail:)/C(crit:) entries (simple console format) and C(Error)/C(Critical)
        entries (JSON format), C(Unhandled exception), C(Npgsql.PostgresException), SQLSTATE C(42703) and
        C(42P01), and C(Microsoft.EntityFrameworkCore.Database.Command[20102]).
    type: list
    elements: str
  ignore_patterns:
    description:
      - Python regular expressions of lines that are never errors, even when an error pattern matches them (known
        noise).
    type: list
    elements: str
    default: []
  fail_on_match:
    description:
      - Whether the task fails when a line matches. With V(false) it only returns the matches.
    type: bool
    default: true
  max_matches:
    description:
      - How many matching lines to return at most (RV(match_count) counts them all).
    type: int
    default: 50
  redact_values:
    description:
      - Secret values that may appear in the logs, for example the database password; they are replaced by
        C(********) in every form tools print them (raw, quoted, URL-encoded, JSON-escaped) in everything
        returned. Never logged.
    type: list
    elements: str
    default: []
notes:
  - O(source=compose) needs the Docker CLI with the Compose plugin on the host that runs the task.
seealso:
  - module: almafrica.rollback.coolify_deploy
  - module: almafrica.rollback.app_watch
'''

EXAMPLES = r'''
- name: Check the application's logs after the deploy (runbook step 7)
  almafrica.rollback.app_logs:
    api_url: http://127.0.0.1:8000
    api_token: "{{ coolify_api_token }}"
    application_uuid: "{{ coolify_application_uuid }}"
    lines: 100
    redact_values: ["{{ db_password }}"]
  register: app_logs

- name: The same for a Docker Compose deployment, keeping the matches without failing
  almafrica.rollback.app_logs:
    source: compose
    project_src: /srv/almafrica
    service: almafrica-api
    fail_on_match: false
    ignore_patterns:
      - "Microsoft.AspNetCore.DataProtection"
'''

RETURN = r'''
source:
  description: Where the logs were read from.
  returned: always
  type: str
  sample: coolify
lines_read:
  description: How many log lines were read and checked.
  returned: when the logs were read
  type: int
  sample: 100
match_count:
  description: How many lines match an error pattern (also those past O(max_matches)).
  returned: when the logs were read
  type: int
  sample: 3
matches:
  description: The matching lines, at most O(max_matches), secrets redacted.
  returned: when the logs were read
  type: list
  elements: dict
  contains:
    line:
      description: The line's number in the text read (1 is the oldest).
      type: int
      sample: 42
    text:
      description: The line.
      type: str
      sample: "fail: Microsoft.EntityFrameworkCore.Database.Command[20102]"
    pattern:
      description: The first error pattern it matched.
      type: str
      sample: "^\\s*(fail|crit):\\s"
    entry:
      description: The log entry the line belongs to - its header and message lines, one per line.
      type: str
      sample: "fail: Microsoft.EntityFrameworkCore.Query[10100]\nNpgsql.PostgresException (0x80004005): 42703: column f.PhoneNumber does not exist"
command:
  description: The command run (O(source=compose)).
  returned: with O(source=compose)
  type: list
  elements: str
  sample: [docker, compose, --project-directory, /srv/almafrica, logs, --no-color, --no-log-prefix, --tail, "100", almafrica-api]
'''

import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.almafrica.rollback.plugins.module_utils.web.coolify import (
    CoolifyClient,
    CoolifyError,
    coolify_argument_spec,
    coolify_client_options,
)
from ansible_collections.almafrica.rollback.plugins.module_utils.web.logs import (
    DEFAULT_ERROR_PATTERNS,
    PatternError,
    compile_patterns,
    scan_log,
    summarize_matches,
)
from ansible_collections.almafrica.rollback.plugins.module_utils.redact import redact


class LogsUnavailable(Exception):
    pass


def read_coolify(module):
    p = module.params
    client = CoolifyClient(p["api_url"], p["api_token"], **coolify_client_options(p))
    try:
        running, text = client.application_logs(p["application_uuid"], p["lines"])
    finally:
        client.close()
    if not running:
        raise LogsUnavailable("Cannot read the logs of application %s: Coolify says %r. Start it (or deploy it) "
                              "first; logs are read from the running container." % (p["application_uuid"], text))
    return text, "Coolify application %s" % p["application_uuid"]


def compose_command(docker, params):
    """argv of ``docker compose ... logs`` for the options (no shell, nothing secret)."""
    argv = [docker, "compose"]
    if params["project_src"]:
        argv += ["--project-directory", params["project_src"]]
    for path in params["files"] or []:
        argv += ["--file", path]
    if params["project_name"]:
        argv += ["--project-name", params["project_name"]]
    return argv + ["logs", "--no-color", "--no-log-prefix", "--tail", str(params["lines"]), params["service"]]


def read_compose(module, result):
    p = module.params
    docker = p["docker_cli"] or module.get_bin_path("docker")
    if not docker:
        raise LogsUnavailable("source=compose needs the docker CLI (with the Compose plugin) on this host, and "
                              "'docker' is not in the PATH; install it or set docker_cli.")
    argv = compose_command(docker, p)
    result["command"] = argv
    rc, out, err = module.run_command(argv, cwd=p["project_src"] or None, check_rc=False)
    if rc != 0:
        said = (err or out or "no output").strip()
        hint = ""
        if "unknown command" in said or "is not a docker command" in said or "unknown flag" in said:
            hint = " The Docker Compose v2 plugin ('docker compose') is not installed for %s: install it." % docker
        elif "Cannot connect to the Docker daemon" in said or "permission denied" in said.lower():
            hint = " The Docker engine cannot be reached from this host (is it running, may this user use it?)."
        raise LogsUnavailable("'docker compose logs' for service %s failed (exit %d): %s.%s" % (
            p["service"], rc, said[-1000:], hint))
    # docker compose writes the containers' stdout and stderr to its stdout; keep both streams' lines
    return out, "service %s (docker compose)" % p["service"]


def main():
    argument_spec = coolify_argument_spec()
    argument_spec["api_url"]["required"] = False
    argument_spec["api_token"]["required"] = False
    argument_spec.update(
        source=dict(type="str", default="coolify", choices=["coolify", "compose"]),
        application_uuid=dict(type="str", aliases=["uuid"]),
        project_src=dict(type="path"),
        project_name=dict(type="str"),
        files=dict(type="list", elements="path"),
        service=dict(type="str"),
        docker_cli=dict(type="path"),
        lines=dict(type="int", default=100),
        error_patterns=dict(type="list", elements="str"),
        ignore_patterns=dict(type="list", elements="str", default=[]),
        fail_on_match=dict(type="bool", default=True),
        max_matches=dict(type="int", default=50),
        redact_values=dict(type="list", elements="str", default=[], no_log=True),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("source", "coolify", ("api_url", "api_token", "application_uuid")),
                     ("source", "compose", ("service",))],
    )
    p = module.params
    secrets = [s for s in (p["redact_values"] or []) + [p["api_token"]] if s]
    result = dict(changed=False, source=p["source"])

    def fail(msg, **extra):
        result.update(extra)
        module.fail_json(msg=redact(msg, secrets), **result)

    if p["lines"] < 1:
        fail("lines must be at least 1, got %d." % p["lines"])
    try:
        patterns = compile_patterns(DEFAULT_ERROR_PATTERNS if p["error_patterns"] is None else p["error_patterns"])
        ignore = compile_patterns(p["ignore_patterns"], "ignore_patterns")
    except PatternError as exc:
        fail(str(exc))
    if not patterns:
        fail("error_patterns is empty: nothing would ever be found. Leave it unset for the defaults.")
    try:
        if p["source"] == "coolify":
            text, where = read_coolify(module)
        else:
            text, where = read_compose(module, result)
    except (LogsUnavailable, CoolifyError, ValueError) as exc:
        fail(str(exc))
    except Exception as exc:  # unexpected: still no secret in the message
        fail("Unexpected error reading the logs: %s" % exc, exception=redact(traceback.format_exc(), secrets))

    scan = scan_log(text, patterns, ignore, secrets, max_matches=p["max_matches"])
    result.update(scan)
    if scan["match_count"] and p["fail_on_match"]:
        fail(summarize_matches(scan["matches"], scan["match_count"], scan["lines_read"], where))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
