# make demo: install into .venv and run the whole pipeline on this machine (`ingest demo`);
# make test: the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
IAC := .venv-iac/bin
TEMPLATE := infra/cloudformation/ingest.yaml

.PHONY: demo test lint bench clean

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

test: lint
	$(BIN)/pytest

bench: $(BIN)/ingest
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/validate_bench.py
	$(BIN)/python benchmarks/ingest_bench.py
	$(BIN)/python benchmarks/query_bench.py

clean:
	rm -rf $(VENV) .venv-iac .pytest_cache .ruff_cache .hypothesis
