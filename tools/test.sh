#!/usr/bin/env bash
# make test: ansible-lint, the changelog fragments' lint, ansible-test sanity, sanity and unit tests on the oldest
# ansible-core claimed (tools/oldest-ansible.sh) and the molecule rehearsals in one
# background chain, and pytest (unit and integration, three workers) in the foreground at the same time. On two
# cores pytest alone leaves part of the machine idle (its tests wait on servers and subprocesses) and molecule runs
# one scenario at a time; together they fill it. The chain's output goes to a log that is printed whole after
# pytest, then one line per step says how it ended; the run fails if any step failed.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${VENV_BIN:-$repo/.venv/bin}
cd "$repo"
if [ "${1:-}" = "--chain" ]; then
  status=$2 rc=0
  for step in "ansible-lint:$bin/ansible-lint --offline" "changelog:$bin/antsibull-changelog lint" \
      "sanity:tools/sanity.sh" "oldest:tools/oldest-ansible.sh" "molecule:$bin/molecule test --all"; do
    name=${step%%:*} cmd=${step#*:} start=$SECONDS
    echo "==> $name: $cmd"
    $cmd
    step_rc=$?
    echo "$name rc=$step_rc $((SECONDS - start))s" >> "$status"
    [ "$step_rc" -eq 0 ] || rc=$step_rc
  done
  exit "$rc"
fi

log=$(mktemp "${TMPDIR:-/tmp}/almafrica-test-chain.XXXXXX")
status=$(mktemp "${TMPDIR:-/tmp}/almafrica-test-status.XXXXXX")
# The chain in a session of its own, so that an interrupted run stops all of it (molecule and what it started).
setsid -w "$0" --chain "$status" > "$log" 2>&1 < /dev/null &
chain_pid=$!
trap 'kill -- -"$chain_pid" 2>/dev/null; rm -f "$log" "$status"' EXIT
trap 'exit 130' INT TERM

start=$SECONDS
"$bin/pytest" -q -n 3 --dist worksteal --durations=25 tests/unit tests/integration
pytest_rc=$?
pytest_time=$((SECONDS - start))
wait "$chain_pid"
chain_rc=$?

echo
echo "==> ansible-lint, ansible-test sanity and molecule (run beside pytest):"
cat "$log"
echo
echo "make test:"
sed 's/^/  /' "$status"
echo "  pytest rc=$pytest_rc ${pytest_time}s"
[ "$pytest_rc" -eq 0 ] && [ "$chain_rc" -eq 0 ]
