#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: coolify_deploy
short_description: Run a given Docker image tag of a Coolify application and wait until it is deployed
version_added: 1.0.0
description:
  - Makes a Coolify v4 application of build pack C(dockerimage) run the Docker image tag O(image_tag), the way the
    rollback runbook needs it ("deploy the previous application version").
  - Coolify's C(/deploy?tag=) parameter is a resource label, B(not) an image tag. This module sets the application's
    C(docker_registry_image_tag) (C(PATCH /api/v1/applications/{uuid})), then deploys it
    (C(POST /api/v1/deploy?uuid=), C(GET) on HTTP 405 for Coolify before 4.2), follows the deployment until it is
    C(finished) or C(failed)/C(cancelled-by-user), and waits for the application status to be C(running:*).
  - When Coolify answers "Deployment already queued", the deployment it returns does not exist; the module then
    follows the application's newest deployment of O(image_tag) instead.
  - Rate limits (HTTP 429, honouring C(Retry-After)), server errors and connection errors are retried with backoff
    for reads and for the tag update; 401, 403, 404 and 422 fail at once with Coolify's message and what to check.
  - The deploy request is never repeated blindly, since each one may queue a deployment. After a server error or a
    connection dropped once the request was sent, the module waits, then looks for a deployment of the application
    that was not in its list just before the request (C(GET /api/v1/deployments/applications/{uuid})). It follows
    that deployment when there is one, and otherwise asks once more, at most.
  - When the deploy is refused or queues nothing, the image tag (and name) set for it are set back to what they
    were, so that the task changes nothing and a re-run does not take the configured tag for a deployed one.
  - Nothing changes when the application already runs O(image_tag) (and O(image_name)).
  - O(expect_env) is checked before anything changes, for example that production has C(RunMigrations=false).
author:
  - Almafrica platform team (@almafrica)
extends_documentation_fragment:
  - almafrica.rollback.coolify
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Reads the Coolify version, the application and (with O(expect_env)) its environment variables, checks
        them, and predicts whether a deployment would happen. Nothing is patched or deployed.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - Shows the application's image name and tag before and after.
options:
  application_uuid:
    description:
      - UUID of the Coolify application (shown in its Coolify URL, C(.../application/<uuid>)).
    type: str
    required: true
    aliases: [ uuid ]
  image_tag:
    description:
      - Docker image tag the application must run, for example V(v1.1.0).
    type: str
    required: true
  image_name:
    description:
      - Docker image name (without tag) the application must run, for example V(almafrica/api).
      - When omitted the application's current image name is kept.
    type: str
  wait:
    description:
      - Whether to follow the deployment until it ends and the application is running.
      - When V(false) the module returns as soon as Coolify has queued the deployment.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait, from the start of the task, for the deployment to finish and the application to run.
      - On timeout the task fails; the deployment goes on in Coolify.
    type: int
    default: 900
  poll_interval:
    description:
      - Seconds between two reads of the deployment and application status.
    type: float
    default: 5
  force:
    description:
      - Ask Coolify for a forced deployment (C(force=true), rebuild without cache).
      - It does not deploy an application that already runs O(image_tag); it only changes how a needed deployment runs.
    type: bool
    default: false
  expect_env:
    description:
      - >-
        Environment variables the application must have in Coolify, as a mapping of name to value, for example
        C({RunMigrations: "false"}). Booleans compare as V(true)/V(false).
      - Checked before anything changes (also in check mode); any missing or different variable fails the task.
      - Reading values needs a token with the C(read:sensitive) ability. Values of variables whose names look
        secret are never shown in messages.
    type: dict
    default: {}
notes:
  - Only C(dockerimage) applications are supported. For applications built from git (nixpacks, dockerfile,
    docker compose ...) deploy the previous commit from Coolify, or use Coolify's rollback to a previous image.
seealso:
  - module: almafrica.rollback.health_assert
'''

EXAMPLES = r'''
- name: Put the previous release back (runbook step 6)
  almafrica.rollback.coolify_deploy:
    api_url: http://127.0.0.1:8000
    api_token: "{{ coolify_api_token }}"
    application_uuid: "{{ coolify_application_uuid }}"
    image_tag: v1.1.0
    expect_env:
      RunMigrations: "false"
  register: deploy

- name: Show what would be deployed, without changing anything
  almafrica.rollback.coolify_deploy:
    api_url: http://127.0.0.1:8000
    api_token: "{{ coolify_api_token }}"
    application_uuid: "{{ coolify_application_uuid }}"
    image_tag: v1.1.0
  check_mode: true
  diff: true

- name: Queue the deployment and return at once
  almafrica.rollback.coolify_deploy:
    api_url: http://127.0.0.1:8000
    api_token: "{{ coolify_api_token }}"
    uuid: "{{ coolify_application_uuid }}"
    image_name: almafrica/api
    image_tag: v1.1.0
    wait: false
'''

RETURN = r'''
coolify_version:
  description: Version of the Coolify instance.
  returned: when the API answered
  type: str
  sample: 4.3.11
previous_tag:
  description: Image tag the application had before the task.
  returned: when the application was read
  type: str
  sample: v1.2.0
image_tag:
  description: Image tag the application has (or, in check mode, would have) after the task.
  returned: always
  type: str
  sample: v1.1.0
image_name:
  description: Image name of the application after the task.
  returned: when the application was read
  type: str
  sample: almafrica/api
deployment_uuid:
  description: UUID of the Coolify deployment that was followed; null when nothing was deployed.
  returned: always
  type: str
  sample: fx9v60vgvhennka01ra9ktd2
deployment_status:
  description: Last status of that deployment (C(queued), C(in_progress), C(finished), C(failed), C(cancelled-by-user)).
  returned: always
  type: str
  sample: finished
status:
  description: Last application status read from Coolify.
  returned: when the application was read
  type: str
  sample: running:healthy
deployment_logs:
  description: Last lines of the deployment's logs, when it failed and the token may read them (C(read:sensitive)).
  returned: on deployment failure
  type: list
  elements: str
  sample: ["[stderr] New container is not healthy: HTTP 503"]
retries:
  description: API calls that were retried, with the reason (rate limit, server error, connection error).
  returned: always
  type: list
  elements: str
  sample: ["POST /api/v1/deploy: HTTP 429, retried after 1.0 s"]
duration:
  description: Seconds the task took.
  returned: always
  type: float
  sample: 42.3
'''

import time
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.almafrica.rollback.plugins.module_utils.coolify import (
    CoolifyClient,
    CoolifyError,
    application_is_running,
    classify_deployment_status,
    coolify_argument_spec,
    coolify_client_options,
    deployment_convergence,
    deployment_log_lines,
    env_mismatches,
    pick_deployment,
)
from ansible_collections.almafrica.rollback.plugins.module_utils.secrets import redact


class DeployFailed(Exception):
    pass


def check_application(app, uuid):
    build_pack = app.get("build_pack")
    if build_pack != "dockerimage":
        raise DeployFailed(
            "Application %s (%s) uses build pack %r: coolify_deploy only runs Docker image tags of 'dockerimage' "
            "applications. Nothing was changed. For a %s application deploy the previous commit from Coolify, or use "
            "Coolify's rollback to a previous image; or publish images and make it a 'dockerimage' application."
            % (uuid, app.get("name", "?"), build_pack, build_pack))


def check_env(client, uuid, expected):
    problems, hidden = env_mismatches(client.envs(uuid), expected)
    if hidden:
        raise DeployFailed("Cannot check expect_env: Coolify hides the values of %s from this token; give the token the "
                           "'read:sensitive' ability (or 'root'). Nothing was changed." % ", ".join(hidden))
    if problems:
        raise DeployFailed("The application's environment is not as expected: %s. Nothing was changed; fix the "
                           "variables in Coolify (or expect_env) first." % "; ".join(problems))


def follow_deployment(module, client, uuid, started_dep, image_tag, deadline, result):
    """Poll until the deployment ends; falls back to the application's list when the id is unknown."""
    dep_uuid = started_dep.get("deployment_uuid")
    # After "Deployment already queued" Coolify's id may not exist (404): then the application's list is used.
    use_list = not dep_uuid
    interval = module.params["poll_interval"]
    while True:
        dep = None
        if not use_list:
            try:
                dep = client.deployment(dep_uuid)
            except CoolifyError as exc:
                if exc.status != 404:
                    raise
                use_list = True
        if use_list:
            dep = pick_deployment(client.application_deployments(uuid), image_tag)
            if dep is not None:
                dep_uuid = dep.get("deployment_uuid")
                use_list = False
        if dep is not None:
            result["deployment_uuid"] = dep_uuid
            result["deployment_status"] = dep.get("status")
            state = classify_deployment_status(dep.get("status"))
            if state == "success":
                return
            if state == "failure":
                lines = deployment_log_lines(dep.get("logs"))
                result["deployment_logs"] = lines
                reason = [line for line in lines if line.startswith("[stderr]")][-2:] or lines[-2:]
                raise DeployFailed("Coolify deployment %s of %s ended %s%s" % (
                    dep_uuid, image_tag, dep.get("status"),
                    (": " + " | ".join(r.replace("[stderr] ", "") for r in reason)) if reason else
                    " (no logs: the token needs 'read:sensitive' to read them)."))
        if time.monotonic() > deadline:
            raise DeployFailed("Coolify deployment %s of %s is still %s after %d s; it goes on in Coolify. Raise "
                               "timeout or follow it in Coolify." % (dep_uuid or "(not found yet)", image_tag,
                                                                     result.get("deployment_status") or "unknown",
                                                                     module.params["timeout"]))
        time.sleep(interval)


def wait_running(module, client, uuid, deadline, result):
    while True:
        app = client.application(uuid)
        result["status"] = app.get("status")
        if application_is_running(result["status"]):
            return
        if time.monotonic() > deadline:
            raise DeployFailed("Deployment %s finished but application %s is %s, not running, after %d s."
                               % (result["deployment_uuid"], uuid, result["status"], module.params["timeout"]))
        time.sleep(module.params["poll_interval"])


def run(module, client, result, deadline):
    params = module.params
    uuid = params["application_uuid"]
    result["coolify_version"] = client.version()
    app = client.application(uuid)
    result["previous_tag"] = app.get("docker_registry_image_tag")
    result["image_name"] = app.get("docker_registry_image_name")
    result["status"] = app.get("status")
    check_application(app, uuid)
    if params["expect_env"]:
        check_env(client, uuid, params["expect_env"])

    update = {}
    if result["previous_tag"] != params["image_tag"]:
        update["docker_registry_image_tag"] = params["image_tag"]
    if params["image_name"] and params["image_name"] != result["image_name"]:
        update["docker_registry_image_name"] = params["image_name"]
    before_name = result["image_name"]
    before = {"image": "%s:%s" % (result["image_name"], result["previous_tag"])}
    after_name = update.get("docker_registry_image_name", result["image_name"])
    result["diff"] = {"before": before, "after": {"image": "%s:%s" % (after_name, params["image_tag"])}}
    if not update and application_is_running(result["status"]):
        # The tag is configured and the application runs; it is converged unless its last deployment (of this
        # tag, or of another one after which the tag was set) did not finish. A pending one is followed.
        latest = (client.application_deployments(uuid, take=1) or [None])[0]
        state = deployment_convergence(latest, params["image_tag"])
        if state == "converged":
            result["diff"]["after"] = before
            return
        if state == "pending":
            result["deployment_uuid"] = latest.get("deployment_uuid")
            result["deployment_status"] = latest.get("status")
            if params["wait"] and not module.check_mode:
                follow_deployment(module, client, uuid, latest, params["image_tag"], deadline, result)
                wait_running(module, client, uuid, deadline, result)
            return
    result["changed"] = True
    result["image_name"] = after_name
    if module.check_mode:
        return
    if update:
        client.update_application(uuid, update)
    try:
        started_dep = client.deploy(uuid, force=params["force"], image_tag=params["image_tag"])
    except CoolifyError as exc:
        if update and exc.nothing_queued:
            # a tag configured but never deployed would look converged to the next run: put the old one back
            undo = {"docker_registry_image_tag": result["previous_tag"],
                    "docker_registry_image_name": before_name}
            undo = dict((k, v) for k, v in undo.items() if k in update and v)
            try:
                if len(undo) != len(update):
                    raise CoolifyError("the application had no previous value to set back")
                client.update_application(uuid, undo)
            except CoolifyError as undo_exc:
                raise DeployFailed("%s The application keeps image %s, configured but not deployed: setting %s "
                                   "back failed too (%s)." % (exc, result["diff"]["after"]["image"],
                                                              before["image"], undo_exc))
            result["changed"] = False
            result["image_name"] = before_name
            raise DeployFailed("%s No deployment was queued; the application's image was set back to %s, so "
                               "nothing changed." % (exc, before["image"]))
        raise
    result["deployment_uuid"] = started_dep.get("deployment_uuid")
    result["deployment_status"] = "queued"
    if not params["wait"]:
        return
    follow_deployment(module, client, uuid, started_dep, params["image_tag"], deadline, result)
    wait_running(module, client, uuid, deadline, result)


def main():
    argument_spec = coolify_argument_spec()
    argument_spec.update(
        application_uuid=dict(type="str", required=True, aliases=["uuid"]),
        image_tag=dict(type="str", required=True),
        image_name=dict(type="str"),
        wait=dict(type="bool", default=True),
        timeout=dict(type="int", default=900),
        poll_interval=dict(type="float", default=5.0),
        force=dict(type="bool", default=False),
        expect_env=dict(type="dict", default={}),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    started = time.monotonic()
    deadline = started + module.params["timeout"]
    result = dict(changed=False, image_tag=module.params["image_tag"], deployment_uuid=None, deployment_status=None,
                  retries=[])
    client = None
    if not module.params["validate_certs"]:
        module.warn("validate_certs is false: the identity of the Coolify server is not checked, so anyone on the path "
                    "can read the API token. Give ca_path the CA that signed its certificate instead.")
    try:
        client = CoolifyClient(module.params["api_url"], module.params["api_token"], deadline=deadline,
                               **coolify_client_options(module.params))
        run(module, client, result, deadline)
    except (DeployFailed, CoolifyError, ValueError) as exc:
        result["retries"] = client.retried if client else []
        module.fail_json(msg=redact(str(exc), [module.params["api_token"]]), duration=round(time.monotonic() - started, 3), **result)
    except Exception as exc:  # an unexpected failure still returns what was learned
        result["retries"] = client.retried if client else []
        module.fail_json(msg=redact("Unexpected error: %s" % exc, [module.params["api_token"]]),
                         exception=redact(traceback.format_exc(), [module.params["api_token"]]),
                         duration=round(time.monotonic() - started, 3), **result)
    finally:
        if client is not None:
            client.close()
    result["retries"] = client.retried
    result["duration"] = round(time.monotonic() - started, 3)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
