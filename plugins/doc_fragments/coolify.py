# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment(object):
    # Coolify API options shared by the Coolify modules (see module_utils/web/coolify.py).
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
      - Whether to verify the TLS certificate of an C(https://) O(api_url) (signer and host name).
      - V(false) is B(unsafe) - anyone on the network path can then pose as Coolify and read the API token.
        For a Coolify served with a certificate of a private CA, give that CA in O(ca_path) instead.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of CA certificates (or an OpenSSL hashed directory) to verify Coolify's certificate with,
        instead of the system's trust store, for a Coolify behind a private CA.
      - Used only when O(validate_certs) is V(true).
    type: path
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
      - Only calls that cannot act twice are retried after a server error or a connection dropped once sent
        (reads, and setting the image tag); a request that never reached Coolify (connection refused) and a
        rate-limited one (429) are always retried. The deploy request itself is never repeated blindly.
      - Redirects are not followed, so the token is only ever sent to O(api_url).
    type: int
    default: 5
  max_body_bytes:
    description:
      - The largest response body read from Coolify, in bytes; a larger one fails the call naming this limit.
        It keeps a wrong O(api_url) (or a hostile server) from filling the memory of the host.
    type: int
    default: 10485760
'''
