#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: pg_scratch_db
short_description: Drop the scratch databases this collection made, and check that a copy of a database fits
version_added: 1.1.0
description:
  - Scratch databases are copies that C(almafrica.rollback.pg_backup) restored with O(ignore:restore_db) (the shadow
    rehearsal of the C(almafrica.rollback.rollback) role restores production's backup into one and runs the rollback
    there first). This module removes them, and only them.
  - A database is dropped only when its name is O(name) or starts with O(prefix) B(and) its comment says that
    C(almafrica.rollback) restored it. Any other database, O(login_db) above all, is never dropped; a database named
    O(name) that is not ours is refused.
  - With O(room_for), checks after the drops that a restored copy of that database fits on the server's disk, where
    the free space can be known (the server runs on this host and its data directory can be read); otherwise it
    says that the space could not be checked.
author:
  - Almafrica platform team (@almafrica)
extends_documentation_fragment:
  - almafrica.rollback.attributes
  - almafrica.rollback.postgres
attributes:
  check_mode:
    support: full
    details:
      - Lists the databases it would drop and checks the room; drops nothing.
  diff_mode:
    support: full
    details:
      - Shows the scratch databases before and after.
options:
  state:
    description:
      - Only V(absent) is supported; scratch databases are created by C(almafrica.rollback.pg_backup) with
        O(ignore:restore_db).
    type: str
    choices: [ absent ]
    default: absent
  name:
    description:
      - The scratch database to drop (when it exists).
    type: str
  prefix:
    description:
      - Also drop every database whose name starts with this prefix and that this collection restored (leftovers of
        runs that were killed before they could clean up). At least 4 characters.
    type: str
  room_for:
    description:
      - After the drops, check that a copy of this database fits, that is its size (C(pg_database_size)) plus 10 % is
        below the free space of the server's data directory.
    type: str
  require_room_check:
    description:
      - Fail, rather than warn, when the free space of the server cannot be known.
    type: bool
    default: false
notes:
  - Dropping terminates the sessions connected to the scratch database (C(DROP DATABASE ... WITH (FORCE)) on
    PostgreSQL 13 and later).
'''

EXAMPLES = r'''
- name: Drop leftovers of killed shadow rehearsals, and check that a copy of production fits
  almafrica.rollback.pg_scratch_db:
    login_host: db.internal
    login_db: almafrica
    prefix: almafrica_shadow_
    room_for: almafrica

- name: Drop this run's scratch copy
  almafrica.rollback.pg_scratch_db:
    login_host: db.internal
    login_db: almafrica
    name: almafrica_shadow_20261201t120000z
'''

RETURN = r'''
dropped:
  description: Scratch databases dropped (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [ almafrica_shadow_20261130t101500z ]
kept:
  description: Databases matching O(prefix) that were left alone because this collection did not make them.
  returned: always
  type: list
  elements: str
  sample: []
room:
  description: The disk check of O(room_for).
  returned: when O(room_for) is given
  type: dict
  contains:
    database_bytes:
      description: Size of O(room_for).
      type: int
    needed_bytes:
      description: What a copy needs (size plus 10 %).
      type: int
    free_bytes:
      description: Free space of the data directory's file system, or null when it cannot be known.
      type: int
    known:
      description: Whether the free space could be read.
      type: bool
    reason:
      description: Why the free space could not be known.
      type: str
  sample: {database_bytes: 1048576000, needed_bytes: 1153433600, free_bytes: 52613349376, known: true, reason: ""}
'''

import os
import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.almafrica.rollback.plugins.module_utils.redact import redact
from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import (
    connect, describe_target, postgres_common_argument_spec, psycopg2, quote_ident, login_secrets)


# pg_backup comments every database it restores into with restore_db: "Restored by almafrica.rollback.pg_backup ...".
OURS = "Restored by almafrica.rollback"
MIN_PREFIX = 4


def _is_loopback(host):
    if not host or host.startswith("/"):
        return True
    try:
        return all(info[4][0].startswith("127.") or info[4][0] == "::1"
                   for info in socket.getaddrinfo(host, None))
    except OSError:
        return False


def free_space(cur, params):
    """(free bytes, reason): the free space of the server's data directory, when the server runs on this host."""
    host = params["login_unix_socket"] or params["login_host"]
    if not _is_loopback(host):
        return None, "the server %s is not on this host" % host
    try:
        cur.execute("SAVEPOINT almafrica_room")
        cur.execute("SHOW data_directory")
        data_dir = cur.fetchone()[0]
        cur.execute("RELEASE SAVEPOINT almafrica_room")
    except psycopg2.Error:
        cur.execute("ROLLBACK TO SAVEPOINT almafrica_room")
        return None, "the data directory cannot be read by %s (needs pg_read_all_settings)" % params["login_user"]
    try:
        st = os.statvfs(data_dir)
    except OSError as exc:
        return None, "the data directory %s is not reachable from here (%s)" % (data_dir, exc.strerror)
    return st.f_bavail * st.f_frsize, ""


def main():
    argument_spec = postgres_common_argument_spec()
    argument_spec.update(
        state=dict(type="str", default="absent", choices=["absent"]),
        name=dict(type="str"),
        prefix=dict(type="str"),
        room_for=dict(type="str"),
        require_room_check=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[("name", "prefix", "room_for")])
    p = module.params
    result = dict(changed=False, dropped=[], kept=[])
    if p["prefix"] is not None and len(p["prefix"]) < MIN_PREFIX:
        module.fail_json(msg="prefix %r is too short to name scratch databases safely (at least %d characters)."
                         % (p["prefix"], MIN_PREFIX), **result)
    if p["name"] and p["name"] == p["login_db"]:
        module.fail_json(msg="Refusing to drop %s: it is the database the module connects to (login_db), not a "
                         "scratch copy." % p["name"], **result)

    conn = connect(module, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
                        "WHERE NOT datistemplate ORDER BY datname")
            databases = cur.fetchall()
            drop = []
            for name, comment in databases:
                named = name == p["name"]
                matches = named or (p["prefix"] and name.startswith(p["prefix"]))
                if not matches or name == p["login_db"]:
                    continue
                if (comment or "").startswith(OURS):
                    drop.append(name)
                elif named:
                    module.fail_json(msg="Refusing to drop %s: it exists but was not restored by almafrica.rollback "
                                     "(its comment is %r). Nothing was dropped." % (name, comment), **result)
                else:
                    result["kept"].append(name)
            result["dropped"] = drop
            result["changed"] = bool(drop)
            if module._diff:
                result["diff"] = {"before": "".join("%s\n" % n for n in drop), "after": ""}
            if not module.check_mode:
                for name in drop:
                    if conn.server_version >= 130000:
                        cur.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % quote_ident(name))
                    else:
                        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                                    (name,))
                        cur.execute("DROP DATABASE IF EXISTS %s" % quote_ident(name))
            if p["room_for"]:
                cur.execute("BEGIN")
                cur.execute("SELECT pg_database_size(%s)", (p["room_for"],))
                size = cur.fetchone()[0]
                free, reason = free_space(cur, p)
                cur.execute("COMMIT")
                needed = int(size * 1.1)
                result["room"] = dict(database_bytes=size, needed_bytes=needed, free_bytes=free,
                                      known=free is not None, reason=reason)
                if free is None:
                    msg = "Cannot check that a copy of %s (%d MB) fits on the server: %s." % (
                        p["room_for"], size // 2 ** 20, reason)
                    if p["require_room_check"]:
                        module.fail_json(msg=msg, **result)
                    module.warn(msg)
                elif free < needed:
                    module.fail_json(msg="A copy of %s needs %d MB (its size plus 10 %%) but the server's disk has "
                                     "%d MB free: free space or restore the copy on another server."
                                     % (p["room_for"], needed // 2 ** 20, free // 2 ** 20), **result)
    except psycopg2.Error as exc:
        reason = redact(str(exc).strip(), login_secrets(p))
        module.fail_json(msg="Scratch databases on %s: %s" % (describe_target(p), reason), **result)
    finally:
        conn.close()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
