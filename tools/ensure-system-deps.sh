#!/usr/bin/env bash
# Make sure this machine has what the venv cannot bring: Python's venv module, the PostgreSQL
# server binaries (tests and the staging kit start a throwaway cluster) and zstd (pg_backup's default
# compression with pg_dump <= 15 streams through it). Installs the Debian packages when root; otherwise
# says what to install.
set -euo pipefail
python=${PYTHON:-python3}
need=()
"$python" -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
"$python" "$(dirname "$0")/../tests/stage/pg.py" --check >/dev/null 2>&1 || need+=(postgresql)
command -v pg_dump >/dev/null 2>&1 || need+=(postgresql-client)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${need[*]}. Install them (sudo apt-get install ${need[*]}) and run make again." >&2
  exit 1
fi
echo "Installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts a 'main' cluster on install; the tests use their own throwaway clusters, not that one.
"$python" "$(dirname "$0")/../tests/stage/pg.py" --check
