# The two commands that matter: `make local` (the embedded stack, an upload OCR'd end to end)
# and `make test` (installs what the tests need, then runs them).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup local local-ministack demo test test-py312 test-fast test-ministack lint bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,embedded]'
	touch $(STAMP)

setup: $(STAMP)
	infra/scripts/install-system-deps.sh

local: setup
	$(BIN)/angebae local --demo

# The same template on MiniStack (no Docker): makes .venv-ministack and .venv-sam with Python 3.12 the
# first time, builds and deploys with the SAM CLI, then the same demo upload through its API Gateway URL.
local-ministack: setup
	$(BIN)/angebae local --engine ministack --demo

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

lint: setup
	$(BIN)/ruff check .

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
	rm -rf $(VENV) .venv-ministack .venv-sam .local .aws-sam .pytest_cache
