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
  - With O(state=stopped) it stops the application instead (a maintenance window, so that nothing writes while the
    database moves), with C(POST /api/v1/applications/{uuid}/stop?docker_cleanup=false), and waits until its
    status is C(exited*). Coolify's C(docker_cleanup) defaults to true and prunes the images no container uses,
    which may remove the very image the rollback deploys next; this module always sends V(false).
  - With O(state=started) it starts the application at its configured image tag (or at O(image_tag), set first)
    with C(POST /api/v1/applications/{uuid}/start), and waits as for a deployment.
author:
  - Almafrica platform team (@almafrica)
extends_documentation_fragment:
  - almafrica.rollback.attributes
  - almafrica.rollback.coolify
attributes:
  check_mode:
    support: full
    details:
      - Reads the Coolify version, the application and (with O(expect_env)) its environment variables, checks
        them, and predicts whether a deployment (O(state=deployed) or O(state=started)) or a stop
        (O(state=stopped)) would happen, saying so in RV(plan). Nothing is patched, deployed, started or stopped.
  diff_mode:
    support: full
    details:
      - Shows the application's image name and tag before and after; with O(state=stopped) its status.
options:
  state:
    description:
      - V(deployed) makes the application run O(image_tag), deploying it when needed (the rollback's step 6).
      - V(stopped) stops the application and waits until its status is C(exited*) (the maintenance window
        before the backup). Nothing changes when it is already exited. Images are never pruned
        (C(docker_cleanup=false)).
      - V(started) starts a stopped application at its configured image tag, or at O(image_tag) when given (set
        first), and waits until it runs; an application that already runs that tag is left alone, one that runs
        another tag is deployed as with V(deployed).
    type: str
    choices: [ deployed, stopped, started ]
    default: deployed
  application_uuid:
    description:
      - UUID of the Coolify application (shown in its Coolify URL, C(.../application/<uuid>)).
    type: str
    required: true
    aliases: [ uuid ]
  image_tag:
    description:
      - Docker image tag the application must run, for example V(v1.1.0).
      - Required with O(state=deployed); optional with O(state=started); ignored with O(state=stopped).
    type: str
  image_name:
    description:
      - Docker image name (without tag) the application must run, for example V(almafrica/api).
      - When omitted the application's current image name is kept.
    type: str
  wait:
    description:
      - Whether to follow the deployment until it ends and the application is running (with O(state=stopped),
        until it is exited).
      - When V(false) the module returns as soon as Coolify has queued the deployment (or the stop).
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait, from the start of the task, for the deployment to finish and the application to run
        (with O(state=stopped), for its status to be C(exited*)).
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
  require_image:
    description:
      - Before a deployment or start (also in check mode, so a preflight that runs this module in check mode
        checks it), read Coolify's rollback images (C(GET /api/v1/applications/{uuid}/rollback-images)) and refuse
        when the list is not empty and lacks the tag, naming the tags that exist. Nothing is changed then.
      - When the list is empty (Coolify could not inspect the server) or the endpoint does not exist, the task warns
        that availability could not be checked and goes on.
      - Set V(false) when the server pulls images from a registry at each deployment.
    type: bool
    default: true
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

- name: Maintenance window - stop the application before the backup (images are never pruned)
  almafrica.rollback.coolify_deploy:
    api_url: http://127.0.0.1:8000
    api_token: "{{ coolify_api_token }}"
    application_uuid: "{{ coolify_application_uuid }}"
    state: stopped
    timeout: 300

- name: A failure before the deploy - start again the version that was running
  almafrica.rollback.coolify_deploy:
    api_url: http://127.0.0.1:8000
    api_token: "{{ coolify_api_token }}"
    application_uuid: "{{ coolify_application_uuid }}"
    state: started
    image_tag: v1.2.0

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
  returned: always (with O(state=stopped) or O(state=started) without O(image_tag), once the application was read)
  type: str
  sample: v1.1.0
state:
  description: The O(state) the task brought (or, in check mode, would bring) the application to.
  returned: always
  type: str
  sample: stopped
plan:
  description: What the task does (or, in check mode, would do), in words.
  returned: always
  type: str
  sample: stop almafrica-api (running:healthy) with docker_cleanup=false and wait until it is exited
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
image_available:
  description:
    - Whether the image tag to deploy is on Coolify's server - C(available), C(missing) or C(unknown) (the list was
      empty, or the endpoint missing).
  returned: when O(require_image) is true and a deployment or start was needed
  type: str
  sample: available
available_tags:
  description: The image tags Coolify's server has for the application's image, newest first.
  returned: when the rollback images were read
  type: list
  elements: str
  sample: [v1.2.0, v1.1.0, v1.0.0]
previous_status:
  description: Application status read before anything changed.
  returned: when the application was read
  type: str
  sample: running:healthy
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
from ansible_collections.almafrica.rollback.plugins.module_utils.web.coolify import (
    CoolifyClient,
    CoolifyError,
    application_is_running,
    classify_deployment_status,
    coolify_argument_spec,
    coolify_client_options,
    deployment_convergence,
    deployment_log_lines,
    env_mismatches,
    image_availability,
    pick_deployment,
)
from ansible_collections.almafrica.rollback.plugins.module_utils.redact import redact


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


def check_image(module, client, uuid, image_tag, name_changes, result):
    """Refuse, before anything changes, to deploy a tag that Coolify's server does not have (a pruned image would
    fail the deployment only after the database has moved); warn when the server cannot be inspected."""
    if name_changes:
        result["image_available"] = "unknown"
        module.warn("image_name changes: Coolify's rollback images list the current image only, so the availability "
                    "of %s could not be checked." % image_tag)
        return
    try:
        listing = client.rollback_images(uuid)
    except CoolifyError as exc:
        if exc.status != 404:
            raise
        result["image_available"] = "unknown"
        module.warn("This Coolify has no rollback-images endpoint (404): the availability of image tag %s could not "
                    "be checked." % image_tag)
        return
    tags = [i["tag"] for i in listing["images"]]
    result["available_tags"] = tags
    result["image_available"] = image_availability(listing["images"], image_tag)
    if result["image_available"] == "missing":
        raise DeployFailed("Image tag %s of %s is not on Coolify's server; the images there are: %s. Nothing was "
                           "changed. Push or pull %s:%s to the server first (or set require_image=false to let the "
                           "deployment pull it)." % (image_tag, result["image_name"], ", ".join(tags),
                                                     result["image_name"], image_tag))
    if result["image_available"] == "unknown":
        module.warn("Coolify returned no rollback images for %s (it could not inspect the server): the availability "
                    "of image tag %s could not be checked." % (uuid, image_tag))


def is_exited(status):
    return (status or "").strip().lower().startswith("exited")


def run_stopped(module, client, uuid, app, result, deadline):
    """The maintenance window: stop without pruning images, wait until exited."""
    params = module.params
    status = result["status"]
    name = app.get("name") or uuid
    result["diff"] = {"before": {"status": status}, "after": {"status": "exited"}}
    latest = (client.application_deployments(uuid, take=1) or [None])[0]
    if latest and classify_deployment_status(latest.get("status")) == "pending":
        # A queued deployment would start the application again inside the maintenance window (and an
        # application between two containers looks exited while it is being deployed).
        raise DeployFailed("Deployment %s of %s is %s: stopping now would be undone when it runs. Nothing was "
                           "changed; wait for it to end (or cancel it in Coolify), then stop."
                           % (latest.get("deployment_uuid"), name, latest.get("status")))
    if is_exited(status):
        result["diff"]["after"] = result["diff"]["before"]
        result["plan"] = "nothing to do: %s is already %s" % (name, status)
        return
    result["changed"] = True
    result["plan"] = "stop %s (%s) with docker_cleanup=false and wait until it is exited" % (name, status)
    if module.check_mode:
        return
    result["stop_message"] = client.stop_application(uuid, docker_cleanup=False)
    if not params["wait"]:
        return
    app = client.wait_status(uuid, "exited", max(deadline - time.monotonic(), 0), interval=params["poll_interval"])
    result["status"] = app.get("status")


def run(module, client, result, deadline):
    params = module.params
    uuid = params["application_uuid"]
    state = params["state"]
    result["coolify_version"] = client.version()
    app = client.application(uuid)
    result["previous_tag"] = app.get("docker_registry_image_tag")
    result["image_name"] = app.get("docker_registry_image_name")
    result["status"] = result["previous_status"] = app.get("status")
    if params["expect_env"]:
        check_env(client, uuid, params["expect_env"])
    if state == "stopped":
        result["image_tag"] = result["previous_tag"]
        return run_stopped(module, client, uuid, app, result, deadline)
    image_tag = params["image_tag"] or result["previous_tag"]
    result["image_tag"] = image_tag
    if params["image_tag"] or params["image_name"]:
        check_application(app, uuid)

    update = {}
    if result["previous_tag"] != image_tag:
        update["docker_registry_image_tag"] = image_tag
    if params["image_name"] and params["image_name"] != result["image_name"]:
        update["docker_registry_image_name"] = params["image_name"]
    before_name = result["image_name"]
    before = {"image": "%s:%s" % (result["image_name"], result["previous_tag"])}
    after_name = update.get("docker_registry_image_name", result["image_name"])
    after_image = "%s:%s" % (after_name, image_tag)
    result["diff"] = {"before": before, "after": {"image": after_image}}
    running = application_is_running(result["status"])
    if not update and running:
        # The tag is configured and the application runs; it is converged unless its last deployment (of this
        # tag, or of another one after which the tag was set) did not finish. A pending one is followed.
        latest = (client.application_deployments(uuid, take=1) or [None])[0]
        convergence = deployment_convergence(latest, image_tag)
        if convergence == "converged":
            result["diff"]["after"] = before
            result["plan"] = "nothing to do: %s already runs %s (%s)" % (uuid, after_image, result["status"])
            return
        if convergence == "pending":
            result["deployment_uuid"] = latest.get("deployment_uuid")
            result["deployment_status"] = latest.get("status")
            result["plan"] = "follow deployment %s of %s, already %s" % (
                result["deployment_uuid"], after_image, latest.get("status"))
            if params["wait"] and not module.check_mode:
                follow_deployment(module, client, uuid, latest, image_tag, deadline, result)
                wait_running(module, client, uuid, deadline, result)
            return
    if params["require_image"]:
        check_image(module, client, uuid, image_tag, "docker_registry_image_name" in update, result)
    result["changed"] = True
    result["image_name"] = after_name
    # A stopped application is started (Coolify's start queues a deployment of the configured image).
    use_start = state == "started" and not running
    result["plan"] = "%s%s %s (was %s, %s)" % (
        "set the image tag, then " if update else "", "start" if use_start else "deploy", after_image,
        before["image"], result["status"])
    if module.check_mode:
        return
    if update:
        client.update_application(uuid, update)
    try:
        if use_start:
            started_dep = client.start_application(uuid)
        else:
            started_dep = client.deploy(uuid, force=params["force"], image_tag=image_tag)
    except CoolifyError as exc:
        # a refused start (4xx) queued nothing either
        if update and (exc.nothing_queued or (use_start and not exc.uncertain)):
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
    follow_deployment(module, client, uuid, started_dep, image_tag, deadline, result)
    wait_running(module, client, uuid, deadline, result)


def main():
    argument_spec = coolify_argument_spec()
    argument_spec.update(
        application_uuid=dict(type="str", required=True, aliases=["uuid"]),
        state=dict(type="str", default="deployed", choices=["deployed", "stopped", "started"]),
        image_tag=dict(type="str"),
        image_name=dict(type="str"),
        wait=dict(type="bool", default=True),
        timeout=dict(type="int", default=900),
        poll_interval=dict(type="float", default=5.0),
        force=dict(type="bool", default=False),
        expect_env=dict(type="dict", default={}),
        require_image=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[("state", "deployed", ("image_tag",))])
    started = time.monotonic()
    deadline = started + module.params["timeout"]
    result = dict(changed=False, state=module.params["state"], image_tag=module.params["image_tag"], plan=None,
                  deployment_uuid=None, deployment_status=None, retries=[])
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
