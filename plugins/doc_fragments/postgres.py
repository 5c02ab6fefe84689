# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment(object):
    # PostgreSQL login options shared by every module (see module_utils/postgres.py).
    DOCUMENTATION = r'''
options:
  login_host:
    description:
      - Host name or address of the PostgreSQL server.
    type: str
    default: localhost
    aliases: [ host ]
  login_port:
    description:
      - TCP port of the PostgreSQL server.
    type: int
    default: 5432
    aliases: [ port ]
  login_user:
    description:
      - Role to connect as.
    type: str
    default: postgres
    aliases: [ user ]
  login_password:
    description:
      - Password of O(login_user).
      - It is never logged, never put on a command line (external tools get it through the environment)
        and never returned. When empty, libpq's usual sources apply (C(PGPASSWORD), C(~/.pgpass)).
    type: str
    default: ''
    aliases: [ password ]
  login_db:
    description:
      - Database to work on.
    type: str
    required: true
    aliases: [ db, database ]
  login_unix_socket:
    description:
      - Directory of the server's Unix socket; when set it is used instead of O(login_host).
    type: str
    default: ''
  ssl_mode:
    description:
      - libpq SSL mode of the connection.
    type: str
    default: prefer
    choices: [ disable, allow, prefer, require, verify-ca, verify-full ]
  ca_cert:
    description:
      - File of certificate authorities to check the server certificate against
        (with O(ssl_mode=verify-ca) or O(ssl_mode=verify-full)).
    type: path
    aliases: [ ssl_rootcert ]
  connect_timeout:
    description:
      - Seconds to wait for the connection to be made.
    type: int
    default: 10
requirements:
  - psycopg2 (the C(psycopg2-binary) package) on the host that runs the task
'''
