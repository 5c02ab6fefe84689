#!/usr/bin/env bash
# ansible-test sanity needs the collection at .../ansible_collections/almafrica/rollback/: copy the checkout's
# files (tracked and new, not ignored) there in a temp dir and run the checks that need no container.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${VENV_BIN:-$repo/.venv/bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/ansible_collections/almafrica/rollback
mkdir -p "$dest"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
   [ -e "$f" ] && printf '%s\0' "$f"; done | xargs -0 cp --parents -t "$dest")
# ansible-test builds one venv per sanity test and bootstraps pip in it with a script it downloads from a
# host we cannot reach. Its own message says the script may be placed in its cache by hand: we place a
# stand-in that does the same job with ensurepip and PyPI. HOME points into the checkout so that the
# cache and the venvs stay with the project (and are reused between runs).
export HOME=$repo/.cache/ansible-test-home
pip_version=$("$bin/python" -c 'import re, ansible_test._internal.python_requirements as m, inspect; print(re.search(r"pip=.([0-9.]+).", inspect.getsource(m)).group(1))')
stub=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$stub")"
cat > "$stub" <<PY
"""Stand-in for get-pip.py: install pip with ensurepip, then the requested packages from the package index."""
import subprocess
import sys
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]  # get-pip.py-only flags
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q"] + args)
PY
cd "$dest"
# Tests that need tools we do not pin (or a container) are skipped; everything else must pass.
skip=(--skip-test pslint --skip-test shellcheck)
"$bin/ansible-test" sanity --color no --python "$("$bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  --local "${skip[@]}" "$@"
