#!/usr/bin/env bash
# The oldest ansible-core meta/runtime.yml claims (requires_ansible), tested as the newest is: ansible-test sanity
# (pylint included) and the unit tests, in a venv of its own (.venv-oldest, from requirements-oldest.txt and the
# versions of constraints.txt that ansible-core 2.16 accepts). Part of make test; make oldest runs it alone.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
venv=$repo/.venv-oldest
python=${PYTHON:-python3}
stamp=$venv/.installed
if [ ! -f "$stamp" ] || [ requirements-oldest.txt -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # ansible-core 2.16 needs resolvelib < 1.1; the ansible* tools of the newest are not wanted here
  grep -vE '^(ansible|ansible-core|ansible-lint|ansible-compat|ansible-builder|resolvelib)==' constraints.txt \
    > "$venv/constraints.txt"
  "$venv/bin/pip" install -q --disable-pip-version-check -r requirements-oldest.txt -c "$venv/constraints.txt"
  touch "$stamp"
fi
version="ansible-core $("$venv/bin/python" -c "import ansible.release as r; print(r.__version__)")"
echo "==> $version: ansible-test sanity"
VENV_BIN=$venv/bin tools/sanity.sh
echo "==> $version: unit tests"
ANSIBLE_COLLECTIONS_PATH=$repo/.collections "$venv/bin/pytest" -q -p no:cacheprovider tests/unit
