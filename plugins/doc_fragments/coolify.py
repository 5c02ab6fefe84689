# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment(object):
    # Coolify API options shared by the Coolify modules (see module_utils/coolify.py).
    DOCUMENTATION = r'''
options:
  api_url:
    description:
      - Base URL of the Coolify instance, for example V(http://127.0.0.1:8000). A trailing C(/api/v1) is accepted.
      - When not set, the environment variable E(COOLIFY_API_URL) is used.
    type: str
    required: true
  api_token:
    description:
      - Coolify API token (Keys & Tokens > API tokens), sent as a Bearer token.
      - Reading needs the C(read) ability, changing the image tag C(write), deploying C(deploy); reading
        environment variable values and deployment logs needs C(read:sensitive). C(root) allows all.
      - It is never logged and never returned. When not set, the environment variable E(COOLIFY_API_TOKEN) is used.
    type: str
    required: true
  validate_certs:
    description:
      - Whether to verify the TLS certificate of O(api_url). Only set to V(false) on a trusted network.
    type: bool
    default: true
  request_timeout:
    description:
      - Seconds to wait for one HTTP response from Coolify.
    type: float
    default: 30
  request_retries:
    description:
      - How many times one API call is retried after a rate limit (HTTP 429, waiting as long as C(Retry-After)
        says), a server error (HTTP 500, 502, 503, 504) or a connection error, with exponential backoff
        (0.5 s, 1 s, 2 s ... at most 30 s). Other errors (401, 403, 404, 422) fail at once.
    type: int
    default: 5
'''
