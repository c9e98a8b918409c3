# make demo: install into .venv and run the whole pipeline on this machine (`ingest demo`);
# make check: lint (ruff) and the unit tests, in well under a minute;
# make test: the whole test suite, in parallel.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
IAC := .venv-iac/bin
TEMPLATE := infra/cloudformation/ingest.yaml
# pytest-xdist workers for `make test` (auto: one per CPU); tests that share a module-wide
# stack or server are kept on one worker by their xdist_group (--dist loadgroup).
WORKERS ?= auto

.PHONY: demo check test lint bench clean

$(BIN)/ingest: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("ingest needs Python 3.11 or newer" if sys.version_info < (3, 11) else 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

# checkov pins an old boto3, so it gets a venv of its own (the `iac` dependency group).
$(IAC)/checkov: pyproject.toml
	$(PYTHON) -m venv .venv-iac
	$(IAC)/python -m pip install --quiet --upgrade pip
	$(IAC)/python -m pip install --quiet --group iac
	@touch $@

demo: $(BIN)/ingest
	$(BIN)/ingest demo

lint: $(BIN)/ingest $(IAC)/checkov
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint $(TEMPLATE)
	BC_SKIP_MAPPING=TRUE $(IAC)/checkov --file $(TEMPLATE) --framework cloudformation --quiet --compact

# The unit tier (tests/unit): no AWS, not even moto; integration and e2e are in `make test`.
check: $(BIN)/ingest
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest tests/unit -n $(WORKERS)

test: lint
	$(BIN)/pytest -n $(WORKERS) --dist loadgroup

bench: $(BIN)/ingest
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/validate_bench.py
	$(BIN)/python benchmarks/ingest_bench.py
	$(BIN)/python benchmarks/query_bench.py
	$(BIN)/python benchmarks/upload_bench.py

clean:
	rm -rf $(VENV) .venv-iac .pytest_cache .ruff_cache .hypothesis
