# almafrica.rollback: the two commands a newcomer runs are `make rehearse` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
COLLECTIONS := $(CURDIR)/.collections
STAMP := $(VENV)/.installed

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_NOCOLOR := 1
export PATH := $(BIN):$(PATH)

.PHONY: all deps system-deps collection test check unit integration lint sanity oldest rehearse rehearse-failure rehearse-shadow roundtrip bench clean

all: deps

system-deps:
	@PYTHON=$(PYTHON) tools/ensure-system-deps.sh

$(STAMP): requirements.txt requirements-test.txt constraints.txt
	@$(MAKE) --no-print-directory system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-test.txt -c constraints.txt
	@touch $@

# The collection is installed from this checkout into a private collections path (a link, so edits apply at once).
collection: $(STAMP)
	@mkdir -p $(COLLECTIONS)/ansible_collections/almafrica
	@ln -sfn ../../.. $(COLLECTIONS)/ansible_collections/almafrica/rollback

deps: collection system-deps

# The edit loop: lint and the unit tests (pure logic), well under a minute.
check: deps
	$(BIN)/ansible-lint --offline
	$(BIN)/antsibull-changelog lint
	$(BIN)/pytest -q tests/unit

unit: deps
	$(BIN)/pytest -q tests/unit

integration: deps
	$(BIN)/pytest -q tests/integration

lint: deps
	$(BIN)/ansible-lint --offline

sanity: deps
	tools/sanity.sh

# ansible-test sanity and the unit tests on the oldest ansible-core meta/runtime.yml claims (its own venv).
oldest: deps
	tools/oldest-ansible.sh

# ansible-lint, ansible-test sanity and the molecule rehearsals run in one chain beside pytest (tools/test.sh:
# together they fill the two cores; the chain's log is printed after pytest, then a line per step).
# pytest: three workers on two cores (the tests wait on servers and subprocesses about a third of the time); the
# role-run tests come first (tests/conftest.py) and work stealing shares them out, so that the run does not end on
# one long test; the 25 slowest tests are listed.
test: deps
	tools/test.sh

# The main job: a full rollback rehearsal (molecule: create the staging kit, converge = the rollback playbook,
# idempotence, verify, destroy), then the incident report it wrote.
rehearse: deps
	cd $(CURDIR) && $(BIN)/molecule test -s default
	@echo; echo "Rehearsal report (reports/rehearsal):"; \
	  report=$$(ls -t reports/rehearsal/*/*.md | tail -n 1); echo "$$report"; echo; cat "$$report"

rehearse-failure: deps
	cd $(CURDIR) && $(BIN)/molecule test -s deploy_failure

# The shadow rehearsal: a Down() that fails only on production-like data is caught on a copy, production untouched.
rehearse-shadow: deps
	cd $(CURDIR) && $(BIN)/molecule test -s shadow

roundtrip: deps
	cd $(CURDIR) && $(BIN)/molecule test -s roundtrip

# Benchmarks (figures in docs/BENCHMARKS.md): backups on a generated 1 GB database, then the rehearsal rollback.
bench: deps
	$(BIN)/python bench/backup.py --size 1GB --repeat 2 --markdown
	$(BIN)/python bench/rehearsal.py --runs 3
	$(BIN)/python bench/rehearsal.py --size 1GB --runs 1
	$(BIN)/python bench/lint.py --repeat 3 --markdown
	$(BIN)/python bench/script_split.py

clean:
	rm -rf $(VENV) .venv-oldest $(COLLECTIONS) .build .pytest_cache tests/output
