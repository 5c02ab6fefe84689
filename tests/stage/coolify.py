"""A Coolify v4-compatible API on 127.0.0.1 for the staging kit: the part of the API that deploys an image tag.

It serves what ``almafrica.rollback.coolify_deploy`` uses, with the shapes, statuses and messages of Coolify 4.3.11
(spec: ../shared/coolify/openapi.json; behaviour: Coolify's controllers and middleware):

    GET  /api/health, /api/v1/health                 OK (no token)
    GET  /api/v1/version                             4.3.11                        ability read
    GET  /api/v1/applications/{uuid}                 Application                   read
    PATCH /api/v1/applications/{uuid}                {"uuid"}; 422 on unknown fields write
    GET  /api/v1/applications/{uuid}/envs            values only with read:sensitive (or root)
    POST /api/v1/deploy?uuid=&force=                 {"deployments": [...]}        deploy (GET too)
    GET  /api/v1/deployments/{uuid}                  ApplicationDeploymentQueue    read (logs: read:sensitive)
    GET  /api/v1/deployments/applications/{uuid}     {"count", "deployments"}      read
    POST /api/v1/applications/{uuid}/stop            {"message"}; queues a stop      deploy
                                                     (docker_cleanup, default true, prunes unused images)
    POST /api/v1/applications/{uuid}/start           {"message", "deployment_uuid"} deploy
    GET  /api/v1/applications/{uuid}/logs?lines=N    {"logs"}; 400 when not running read
    GET  /api/v1/applications/{uuid}/rollback-images {"current", "images": [{"tag", "created_at", "is_current"}]} read

A deployment restarts the application at the release named by its image tag (``v1.1.0`` -> release v1.1.0)
through a ``launcher(app, release)`` callable that returns a process object (``start(wait=False)``, ``stop()``,
``url``, ``running``, ``log()``); ``almafrica_launcher`` runs ``stage.app.AppProcess``. Deployments go
``queued -> in_progress -> finished | failed``: a tag the registry does not hold, or a process that does not
answer ``/health`` with 200, fails the deployment with logs.

Every request and response is checked against the spec (``stage.coolify_spec``); mismatches collect in
``spec_violations`` and the tests assert it stays empty. ``faults`` injects 429s, 500s, dropped connections,
"already queued" answers, slow deploys, a disabled API and the pre-4.2 GET-only /deploy.

    server = CoolifyServer(apps=[CoolifyApplication(uuid=..., image_tag="v1.2.0", envs={...})],
                           tokens={token: ["root"]}, launcher=almafrica_launcher).start()
    server.url ... server.stop()

CLI (molecule, ``make rehearse``): ``python -m stage.coolify --config coolify.json [--state-file state.json]``.
"""
from __future__ import annotations

import argparse
import collections
import datetime
import hashlib
import itertools
import json
import os
import secrets
import signal
import string
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

if __package__ in (None, ""):  # python tests/stage/coolify.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stage.coolify_spec import CoolifySpec  # noqa: E402

COOLIFY_VERSION = "4.3.11"
DEFAULT_RELEASES = ("v1.0.0", "v1.1.0", "v1.2.0")
PENDING = ("queued", "in_progress")

# Fields PATCH /applications/{uuid} accepts are those the spec documents; anything else is a 422, as in Coolify.
_CUID_ALPHABET = string.ascii_lowercase + string.digits


def new_uuid():
    """A Coolify-style resource id (cuid2: 24 lowercase letters and digits, starting with a letter)."""
    return secrets.choice(string.ascii_lowercase) + "".join(secrets.choice(_CUID_ALPHABET) for _ignored in range(23))


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CoolifyApplication:
    """One Coolify application as the API shows it, plus the process that plays it."""

    _ids = itertools.count(1)

    def __init__(self, uuid=None, name="almafrica-api", build_pack="dockerimage", image_name="almafrica/api",
                 image_tag="v1.2.0", envs=None, port=None, running=True, health_timeout=30.0):
        self.id = next(self._ids)
        self.uuid = uuid or new_uuid()
        self.name = name
        self.build_pack = build_pack
        self.image_name = image_name
        self.image_tag = image_tag
        self.envs = dict(envs or {})
        self.port = port
        self.running = running  # wanted state at server start
        self.health_timeout = health_timeout
        self.status = "exited:unhealthy"
        self.fqdn = "http://127.0.0.1:%d" % port if port else ""
        self.process = None
        self.running_tag = None  # the image tag of the container that runs (None when stopped)
        self.env_ids = {key: i for i, key in enumerate(self.envs, start=1)}

    def to_api(self):
        return {
            "id": self.id, "uuid": self.uuid, "name": self.name, "description": "",
            "fqdn": self.fqdn, "config_hash": hashlib.md5(("%s:%s" % (self.image_name, self.image_tag)).encode()).hexdigest(),
            "git_repository": "", "git_branch": "", "git_commit_sha": "HEAD",
            "docker_registry_image_name": self.image_name, "docker_registry_image_tag": self.image_tag,
            "build_pack": self.build_pack, "ports_exposes": str(self.port or 8080), "base_directory": "/",
            "health_check_enabled": True, "health_check_path": "/health", "health_check_method": "GET",
            "health_check_return_code": 200, "health_check_scheme": "http", "health_check_type": "http",
            "status": self.status, "destination_type": "App\\Models\\StandaloneDocker",
            "created_at": "2026-01-15T10:00:00.000000Z", "updated_at": _now(),
        }

    def envs_to_api(self, can_read_sensitive):
        out = []
        for key, value in self.envs.items():
            env = {"id": self.env_ids.setdefault(key, len(self.env_ids) + 1), "uuid": "env%021d" % self.env_ids[key],
                   "resourceable_type": "App\\Models\\Application", "resourceable_id": self.id,
                   "is_literal": False, "is_multiline": False, "is_preview": False, "is_runtime": True,
                   "is_buildtime": True, "is_shared": False, "is_shown_once": False, "key": key,
                   "version": COOLIFY_VERSION, "created_at": "2026-01-15T10:00:00.000000Z", "updated_at": _now()}
            if can_read_sensitive:  # ApplicationsController::removeSensitiveData hides value and real_value
                env["value"] = str(value)
                env["real_value"] = str(value)
            out.append(env)
        return out


class Deployment:
    _ids = itertools.count(1)

    def __init__(self, app, force, is_webhook=False):
        self.id = next(self._ids)
        self.uuid = new_uuid()
        self.app = app
        self.image_tag = app.image_tag
        self.force = force
        self.is_webhook = is_webhook
        self.status = "queued"
        self.created_at = self.updated_at = _now()
        self._logs = []

    def log(self, output, stream="stdout"):
        self._logs.append({"command": None, "output": output, "type": stream, "timestamp": _now(),
                           "hidden": False, "batch": 1, "order": len(self._logs) + 1})
        self.updated_at = _now()

    def to_api(self, can_read_sensitive):
        out = {
            "id": self.id, "application_id": str(self.app.id), "deployment_uuid": self.uuid, "pull_request_id": 0,
            "docker_registry_image_tag": self.image_tag, "force_rebuild": self.force, "commit": "HEAD",
            "status": self.status, "is_webhook": self.is_webhook, "is_api": not self.is_webhook,
            "created_at": self.created_at, "updated_at": self.updated_at, "current_process_id": "",
            "restart_only": False, "git_type": "", "server_id": 0, "application_name": self.app.name,
            "server_name": "localhost", "deployment_url": "/project/staging/application/%s/deployment/%s"
                                                          % (self.app.uuid, self.uuid),
            "destination_id": "0", "only_this_server": False, "rollback": False, "commit_message": "",
        }
        if can_read_sensitive:  # DeployController::removeSensitiveData hides the logs
            out["logs"] = json.dumps(self._logs)
        return out


class Faults:
    """Switches for the failures a real Coolify shows. Injected responses are used up in request order."""

    def __init__(self):
        self._lock = threading.Lock()
        self._injected = []
        self.api_disabled = False     # 403 {"success": true, "message": "API is disabled."} (ApiAllowed)
        self.legacy_deploy = False    # Coolify < 4.2: POST /deploy answers 405, GET works
        self.already_queued = 0       # next N deploys answer "Deployment already queued" with an unknown uuid
        self.deploy_delay = 0.0       # extra seconds a deployment spends in_progress
        self.queue_delay = 0.2        # seconds a deployment stays queued
        self.stop_delay = 0.2         # seconds a stop stays queued before the container stops
        self.missing_images = set()   # "image missing": these tags are neither on the server nor in the registry
        self.uninspectable = False    # rollback-images answers an empty list (server unreachable for inspection)
        # Applied to the containers that deployments start ("after deploy"), see stage.app_faults:
        self.error_rate_after_deploy = {}   # {"/api/orders": 0.05}: that share of requests answers 500
        self.latency_after_deploy = {}      # {"/api/farmers": 2000}: milliseconds before answering

    def app_env(self):
        """Environment switches for a container started by a deployment."""
        from stage.app_faults import ERROR_RATE_ENV, LATENCY_ENV, format_switch

        env = {}
        if self.error_rate_after_deploy:
            env[ERROR_RATE_ENV] = format_switch(self.error_rate_after_deploy)
        if self.latency_after_deploy:
            env[LATENCY_ENV] = format_switch(self.latency_after_deploy)
        return env

    def configure(self, config):
        """Set switches from a dict (the CLI's ``faults`` config): missing_images, uninspectable,
        error_rate_after_deploy, latency_after_deploy, queue_delay, deploy_delay, stop_delay."""
        for key, value in (config or {}).items():
            if key == "missing_images":
                value = set(value)
            elif not hasattr(self, key) or key.startswith("_"):
                raise ValueError("unknown fault switch %r" % key)
            setattr(self, key, value)

    def inject(self, status=None, times=1, method=None, path=None, retry_after=None, drop=False):
        """Answer the next ``times`` matching requests with ``status`` (429 adds Retry-After) or drop them."""
        with self._lock:
            self._injected.append(dict(status=status, left=times, method=method, path=path,
                                       retry_after=retry_after, drop=drop))

    def take(self, method, path):
        with self._lock:
            for rule in self._injected:
                if rule["left"] <= 0:
                    continue
                if rule["method"] and rule["method"].upper() != method:
                    continue
                if rule["path"] and not path.startswith(rule["path"]):
                    continue
                rule["left"] -= 1
                return rule
        return None

    def pending(self):
        with self._lock:
            return sum(r["left"] for r in self._injected)


def almafrica_launcher(app, release):
    """Start ``stage.app.AppProcess`` for ``release`` configured from the application's Coolify envs."""
    from stage.app import AppProcess  # the application lands separately; imported only when deploying

    envs = dict(app.envs)
    # A container's ASP.NET Core writes console entries ("info: Microsoft.Hosting.Lifetime[14]"), not JSON.
    envs.setdefault("Logging__Console__FormatterName", "simple")
    envs.update(getattr(app, "fault_env", None) or {})
    conn = envs.pop("ConnectionStrings__DefaultConnection", "")
    run_migrations = str(envs.pop("RunMigrations", "false")).lower() == "true"
    environment = envs.pop("ASPNETCORE_ENVIRONMENT", "staging")
    return AppProcess(release, conn, port=app.port, environment=environment,
                      run_migrations=run_migrations, extra_env=envs)


class CoolifyServer:
    """The staging Coolify. ``apps``: CoolifyApplication objects or dicts of its arguments;
    ``tokens``: {token: [abilities]}; ``images``: {image name: [tags the registry holds]}."""

    def __init__(self, apps=(), tokens=None, launcher=None, images=None, version=COOLIFY_VERSION,
                 host="127.0.0.1", port=0, spec_path=None):
        self.apps = collections.OrderedDict()
        for app in apps:
            app = app if isinstance(app, CoolifyApplication) else CoolifyApplication(**app)
            self.apps[app.uuid] = app
        self.tokens = {tok: list(abilities) for tok, abilities in (tokens or {}).items()}
        self.launcher = launcher
        self.images = images if images is not None else {a.image_name: list(DEFAULT_RELEASES)
                                                         for a in self.apps.values()}
        # when each image was built (rollback-images' created_at): a day apart, in the registry's order
        self.image_created = {}
        self.version = version
        self.host, self.port = host, port
        self.spec = CoolifySpec(spec_path)
        self.faults = Faults()
        self.requests = []
        self.spec_violations = []
        self.deployments = collections.OrderedDict()
        self.pruned_images = []  # "name:tag" removed by a stop with docker_cleanup
        self._lock = threading.RLock()
        self._queues = {}
        self._httpd = None
        self._thread = None
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def start(self):
        for app in self.apps.values():
            if app.running:
                self._launch(app, app.image_tag, deployment=None)
        handler = type("CoolifyHandler", (_Handler,), {"coolify": self})
        self._httpd = ThreadingHTTPServer((self.host, self.port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="coolify-api", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        for worker in list(self._queues.values()):
            worker.join(timeout=60)
        for app in self.apps.values():
            if app.process is not None:
                app.process.stop()
                app.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def application(self, uuid):
        return self.apps[uuid]

    def requests_to(self, method, path):
        """Logged requests of ``method`` to ``path`` or below it (``/api/v1/deploy`` is not ``/deployments``)."""
        below = path.rstrip("/") + "/"
        return [r for r in self.requests if r["method"] == method and (r["path"] == path or r["path"].startswith(below))]

    def wait_idle(self, timeout=120):
        """Wait until no deployment is queued or in progress (tests: before asserting on the app)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not any(d.status in PENDING for d in self.deployments.values()):
                    return True
            time.sleep(0.05)
        return False

    # -- deployments -----------------------------------------------------------------------------
    def queue_deployment(self, app, force, is_webhook=False):
        dep = Deployment(app, force, is_webhook=is_webhook)
        with self._lock:
            self.deployments[dep.uuid] = dep
            worker = self._queues.get(app.uuid)
            if worker is None or not worker.is_alive():
                worker = threading.Thread(target=self._work, args=(app,), name="deploy-" + app.uuid, daemon=True)
                self._queues[app.uuid] = worker
                worker.start()
        return dep

    def _next_queued(self, app):
        with self._lock:
            for dep in self.deployments.values():
                if dep.app is app and dep.status == "queued":
                    return dep
        return None

    def _work(self, app):
        # One deployment at a time per application, oldest first, as Coolify's queue does.
        while not self._stopping.is_set():
            dep = self._next_queued(app)
            if dep is None:
                with self._lock:
                    if self._next_queued(app) is None:
                        self._queues.pop(app.uuid, None)
                        return
                continue
            time.sleep(self.faults.queue_delay)
            dep.status = "in_progress"
            dep.log("Starting deployment of %s:%s to localhost." % (app.image_name, dep.image_tag))
            if self.faults.deploy_delay:
                time.sleep(self.faults.deploy_delay)
            try:
                ok = self._launch(app, dep.image_tag, dep)
            except Exception as exc:  # a launcher bug must fail the deployment, not hang it
                dep.log("Deployment failed: %s" % exc, "stderr")
                ok = False
            dep.status = "finished" if ok else "failed"
            dep.updated_at = _now()

    def _launch(self, app, tag, deployment):
        log = deployment.log if deployment else (lambda *a: None)
        if tag not in self.image_tags(app.image_name):
            log("Pulling %s:%s." % (app.image_name, tag))
            log("Error response from daemon: manifest for %s:%s not found: manifest unknown: manifest unknown"
                % (app.image_name, tag), "stderr")
            log("Deployment failed. Removing the new version of your application.", "stderr")
            return False
        log("Pulling %s:%s." % (app.image_name, tag))
        if app.process is not None:
            log("Stopping the old container.")
            app.process.stop()
            app.process = None
            app.status = "exited:unhealthy"
        app.running_tag = tag
        app.fault_env = self.faults.app_env() if deployment is not None else {}
        if self.launcher is None:  # API-only mode: no process plays the application
            app.status = "running:healthy"
            log("Container started (no process attached).")
            return True
        proc = self.launcher(app, tag)
        app.process = proc
        proc.start(wait=False)
        if app.port is None:
            app.port = proc.port
        app.fqdn = proc.url
        log("Starting the new container; waiting for it to be healthy (GET /health).")
        # A deployment waits for its container to become healthy; the container already running when the server
        # starts is only looked at: its first answer to /health gives its status (no wait for a health that a
        # database at another release will never give).
        healthy, last = self._wait_healthy(proc, app.health_timeout, first_answer=deployment is None)
        if healthy:
            app.status = "running:healthy"
            log("New container is healthy.")
            log("Rolling update completed.")
            return True
        app.status = "running:unhealthy" if proc.running else "exited:unhealthy"
        try:
            tail = (proc.log() or "").strip().splitlines()[-20:]
        except Exception:  # the log is a courtesy
            tail = []
        for line in tail:
            log("container: " + line)
        log("New container is not healthy: %s" % last, "stderr")
        log("Deployment failed. Removing the new version of your application.", "stderr")
        return False

    @staticmethod
    def _wait_healthy(proc, timeout, first_answer=False):
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not proc.running:
                return False, "the process exited"
            try:
                with urllib.request.urlopen(proc.url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        return True, "200"
                    last = "HTTP %d" % resp.status
            except urllib.error.HTTPError as exc:
                last = "HTTP %d %s" % (exc.code, exc.read(300).decode("utf-8", "replace"))
                if first_answer:
                    return False, last
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.2)
        return False, "health check still failing after %ss (%s)" % (timeout, last)

    def image_tags(self, image_name):
        """Tags of ``image_name`` the server has (or can pull), without those the "image missing" fault removed."""
        return [t for t in self.images.get(image_name, ()) if t not in self.faults.missing_images]

    def image_created_at(self, image_name, tag):
        key = "%s:%s" % (image_name, tag)
        if key not in self.image_created:
            tags = list(self.images.get(image_name, ()))
            day = tags.index(tag) + 1 if tag in tags else len(tags) + 1
            self.image_created[key] = "2026-01-%02dT10:00:00.000000Z" % min(day, 28)
        return self.image_created[key]

    # -- the API ---------------------------------------------------------------------------------
    def handle(self, method, path, query, headers, body):
        """Returns (status, headers, body bytes) or None to drop the connection."""
        rule = self.faults.take(method, path)
        if rule is not None:
            if rule["drop"]:
                return None
            if rule["status"] == 429:
                return _json(429, {"message": "Too Many Attempts."},
                             {"Retry-After": str(rule["retry_after"] if rule["retry_after"] is not None else 1)})
            return _json(rule["status"], {"message": "Server Error"})
        if path in ("/api/health", "/api/v1/health") and method == "GET":
            return 200, {"Content-Type": "text/html; charset=UTF-8"}, b"OK"
        if not path.startswith("/api/v1/"):
            return _json(404, {"message": "Not found."})
        auth = headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        abilities = self.tokens.get(token) if token else None
        if abilities is None:
            return _json(401, {"message": "Unauthenticated."})
        if self.faults.api_disabled:
            return _json(403, {"success": True, "message": "API is disabled."})
        can_read_sensitive = "root" in abilities or "read:sensitive" in abilities
        route, args = _route(method, path)
        if route is None:
            return _json(404, {"message": "Not found."})
        if route == "method_not_allowed" or (route == "deploy" and method == "POST" and self.faults.legacy_deploy):
            return _json(405, {"message": "The %s method is not supported for route %s. Supported methods: GET, "
                                          "HEAD." % (method, path.lstrip("/"))})
        needed = ROUTE_ABILITY[route]
        if "root" not in abilities and needed not in abilities:
            return _json(403, {"message": "Missing required permissions: %s" % needed})
        return getattr(self, "_api_" + route)(args, parse_qs(query), body, can_read_sensitive)

    def _api_version(self, args, query, body, sensitive):
        return 200, {"Content-Type": "text/html; charset=UTF-8"}, self.version.encode()

    def _api_application(self, args, query, body, sensitive):
        app = self.apps.get(args[0])
        if app is None:
            return _json(404, {"message": "Application not found."})
        return _json(200, app.to_api())

    def _api_update_application(self, args, query, body, sensitive):
        app = self.apps.get(args[0])
        if app is None:
            return _json(404, {"message": "Application not found."})
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return _json(400, {"message": "Invalid request."})
        allowed = self.spec.patchable_application_fields
        errors = {k: ["This field is not allowed."] for k in data if k not in allowed}
        for key in ("docker_registry_image_tag", "docker_registry_image_name"):
            if key in data and not (isinstance(data[key], str) and data[key]):
                errors[key] = ["The %s field must be a string." % key.replace("_", " ")]
        if errors:
            return _json(422, {"message": "Validation failed.", "errors": errors})
        with self._lock:
            app.image_tag = data.get("docker_registry_image_tag", app.image_tag)
            app.image_name = data.get("docker_registry_image_name", app.image_name)
        return _json(200, {"uuid": app.uuid})

    def _api_envs(self, args, query, body, sensitive):
        app = self.apps.get(args[0])
        if app is None:
            return _json(404, {"message": "Application not found"})
        return _json(200, app.envs_to_api(sensitive))

    def _api_deploy(self, args, query, body, sensitive):
        uuids = ",".join(query.get("uuid", []))
        tags = ",".join(query.get("tag", []))
        force = query.get("force", [""])[0] not in ("", "0")  # PHP: any non-empty string but "0" is true
        if uuids and tags:
            return _json(400, {"message": "You can only use uuid or tag, not both."})
        if tags:
            return _json(404, {"message": "No resources found with this tag."})
        if not uuids:
            return _json(400, {"message": "You must provide uuid or tag."})
        out = []
        for uuid in [u for u in uuids.split(",") if u]:
            app = self.apps.get(uuid)
            if app is None:
                continue
            with self._lock:
                existing = [d for d in self.deployments.values()
                            if d.app is app and d.image_tag == app.image_tag and d.status in PENDING]
                if self.faults.already_queued:
                    # Another trigger (a webhook) queued this tag an instant before us.
                    self.faults.already_queued -= 1
                    self.queue_deployment(app, force, is_webhook=True)
                    existing = True
                if existing and not force:
                    # Coolify answers with a fresh id that was never stored: GET /deployments/{it} is a 404.
                    out.append({"message": "Deployment already queued for this commit.", "resource_uuid": uuid,
                                "deployment_uuid": new_uuid()})
                    continue
                dep = self.queue_deployment(app, force)
            out.append({"message": "Application %s deployment queued." % app.name, "resource_uuid": uuid,
                        "deployment_uuid": dep.uuid})
        if not out:
            return _json(404, {"message": "No resources found."})
        return _json(200, {"deployments": out})

    def _api_deployment(self, args, query, body, sensitive):
        dep = self.deployments.get(args[0])
        if dep is None:
            return _json(404, {"message": "Deployment not found."})
        return _json(200, dep.to_api(sensitive))

    def _api_app_deployments(self, args, query, body, sensitive):
        app = self.apps.get(args[0])
        if app is None:
            return _json(404, {"message": "Application not found."})
        try:
            skip = int(query.get("skip", ["0"])[0])
            take = int(query.get("take", ["10"])[0])
        except ValueError:
            return _json(422, {"message": "Validation failed.", "errors": {"skip": ["must be an integer"]}})
        deps = [d for d in reversed(list(self.deployments.values())) if d.app is app]
        return _json(200, {"count": len(deps),
                           "deployments": [d.to_api(sensitive) for d in deps[skip:skip + take]]})

    # -- start / stop (ApplicationsController::action_stop, action_deploy) --------------------------
    def _api_stop_application(self, args, query, body, sensitive):
        app = self.apps.get(args[0])
        if app is None:
            return _json(404, {"message": "Application not found."})
        # $request->boolean('docker_cleanup', true): Laravel reads "1", "true", "on", "yes" as true
        raw = query.get("docker_cleanup", ["true"])[0].strip().lower()
        docker_cleanup = raw in ("1", "true", "on", "yes")
        job = threading.Thread(target=self._stop_job, args=(app, docker_cleanup), name="stop-" + app.uuid,
                               daemon=True)
        with self._lock:
            self._queues["stop:" + app.uuid] = job  # joined by stop() like the deployment workers
        job.start()
        return _json(200, {"message": "Application stopping request queued."})

    def _stop_job(self, app, docker_cleanup):
        """StopApplication: stop the container, then (docker_cleanup) prune what no running container uses."""
        time.sleep(self.faults.stop_delay)
        with self._lock:
            proc, app.process = app.process, None
            kept = app.running_tag
            app.running_tag = None
        if proc is not None:
            proc.stop()
        app.status = "exited:unhealthy"
        if docker_cleanup:
            # Model of CleanupDocker after a stop: images of this application other than the one that ran are
            # unused, so they go (the running one is kept only because its container was just removed).
            with self._lock:
                tags = self.images.get(app.image_name, [])
                self.pruned_images.extend("%s:%s" % (app.image_name, t) for t in tags if t != kept)
                self.images[app.image_name] = [t for t in tags if t == kept]

    def _api_start_application(self, args, query, body, sensitive):
        app = self.apps.get(args[0])
        if app is None:
            return _json(404, {"message": "Application not found."})
        force = query.get("force", ["false"])[0].strip().lower() in ("1", "true", "on", "yes")
        dep = self.queue_deployment(app, force)
        return _json(200, {"message": "Deployment request queued.", "deployment_uuid": dep.uuid})

    # -- logs, rollback images (ApplicationsController::logs_by_uuid, rollback_images) ----------------
    def _api_application_logs(self, args, query, body, sensitive):
        app = self.apps.get(args[0])
        if app is None:
            return _json(404, {"message": "Application not found."})
        try:
            lines = int(query.get("lines", ["100"])[0])
        except ValueError:
            errors = {"lines": ["The lines field must be an integer."]}
            return _json(422, {"message": "Validation failed.", "errors": errors})
        if not app.status.startswith("running") or app.process is None and self.launcher is not None:
            return _json(400, {"message": "Application is not running."})
        try:
            text = app.process.log() if app.process is not None else ""
        except Exception:  # a log that cannot be read is an empty one, as docker logs of a fresh container
            text = ""
        tail = text.splitlines()[-lines:] if lines > 0 else []
        return _json(200, {"logs": "\n".join(tail)})

    def _api_rollback_images(self, args, query, body, sensitive):
        app = self.apps.get(args[0])
        if app is None:
            return _json(404, {"message": "Application not found."})
        if self.faults.uninspectable:
            # "Returns an empty list when the server is unavailable or remote inspection is not possible."
            return _json(200, {"current": None, "images": []})
        current = app.running_tag
        tags = self.image_tags(app.image_name)
        images = [{"tag": t, "created_at": self.image_created_at(app.image_name, t), "is_current": t == current}
                  for t in tags]
        images.sort(key=lambda i: i["created_at"], reverse=True)
        return _json(200, {"current": current, "images": images})


ROUTE_ABILITY = {"version": "read", "application": "read", "update_application": "write", "envs": "read",
                 "deploy": "deploy", "deployment": "read", "app_deployments": "read",
                 # routes/api.php: start, stop and restart are behind api.ability:deploy
                 "stop_application": "deploy", "start_application": "deploy",
                 "application_logs": "read", "rollback_images": "read"}


def _route(method, path):
    parts = path[len("/api/v1/"):].strip("/").split("/")
    table = [
        (("version",), {"GET": "version"}),
        (("applications", None), {"GET": "application", "PATCH": "update_application"}),
        (("applications", None, "envs"), {"GET": "envs"}),
        (("applications", None, "stop"), {"POST": "stop_application"}),
        (("applications", None, "start"), {"POST": "start_application"}),
        (("applications", None, "logs"), {"GET": "application_logs"}),
        (("applications", None, "rollback-images"), {"GET": "rollback_images"}),
        (("deploy",), {"GET": "deploy", "POST": "deploy"}),
        (("deployments", "applications", None), {"GET": "app_deployments"}),
        (("deployments", None), {"GET": "deployment"}),
    ]
    for pattern, methods in table:
        if len(pattern) == len(parts) and all(p is None or p == part for p, part in zip(pattern, parts)):
            args = [part for p, part in zip(pattern, parts) if p is None]
            return methods.get(method, "method_not_allowed"), args
    return None, []


def _json(status, payload, headers=None):
    out = {"Content-Type": "application/json"}
    out.update(headers or {})
    return status, out, json.dumps(payload).encode()


class _Handler(BaseHTTPRequestHandler):
    coolify = None
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name; the server keeps its own log
        pass

    def _serve(self):
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        answer = self.coolify.handle(self.command, split.path, split.query, headers, body)
        entry = {"method": self.command, "path": split.path, "query": split.query,
                 "authorized": "Authorization" in self.headers, "status": None, "body": None}
        try:
            entry["body"] = json.loads(body) if body else None
        except ValueError:
            entry["body"] = body.decode("utf-8", "replace")
        if answer is None:  # injected connection drop
            entry["status"] = "dropped"
            self.coolify.requests.append(entry)
            self.close_connection = True
            return
        status, resp_headers, resp_body = answer
        entry["status"] = status
        self.coolify.requests.append(entry)
        problems = self.coolify.spec.check(self.command, split.path, split.query, headers, body,
                                           status, resp_headers, resp_body)
        if problems:
            self.coolify.spec_violations.extend(problems)
        self.send_response(status)
        for key, value in resp_headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(resp_body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp_body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


def _load_config(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--config", required=True,
                        help="JSON: {tokens: {token: [abilities]}, applications: [{uuid, image_tag, envs, port, ...}],"
                             " images: {name: [tags]}, version, port, faults: {switch: value}}")
    parser.add_argument("--state-file", help="write {url, pid, port} here once serving")
    parser.add_argument("--no-app", action="store_true", help="API only: no application process")
    opts = parser.parse_args(argv)
    cfg = _load_config(opts.config)
    server = CoolifyServer(apps=cfg.get("applications", []), tokens=cfg.get("tokens", {}),
                           launcher=None if opts.no_app else almafrica_launcher, images=cfg.get("images"),
                           version=cfg.get("version", COOLIFY_VERSION), port=int(cfg.get("port", 0)))
    server.faults.configure(cfg.get("faults"))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    server.start()
    state = {"url": server.url, "port": server.port, "pid": os.getpid(),
             "applications": {a.uuid: a.fqdn for a in server.apps.values()}}
    if opts.state_file:
        tmp = opts.state_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(state, fh)
        os.replace(tmp, opts.state_file)
    print(json.dumps(state), flush=True)
    try:
        done.wait()
    finally:
        server.stop()
        for problem in server.spec_violations:
            print("spec violation: " + problem, file=sys.stderr)
    return 1 if server.spec_violations else 0


if __name__ == "__main__":
    sys.exit(main())
