# The two setup commands (see README): `make demo` and `make test` bootstrap .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TZ := UTC
export LC_ALL := C.UTF-8

.PHONY: demo test lint typecheck unit bench clean docs wheelhouse fuzz

# _walk.c: the compiled capture kernels are rebuilt (in place, editable) when their source changes.
$(STAMP): pyproject.toml src/droneaudit/readers/capture/_walk.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/droneaudit demo --out build/demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts fuzz
	$(BIN)/ruff format --check src tests bench scripts fuzz

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Coverage-guided fuzzing of every reader (docs/fuzzing.md): FUZZ_SECONDS per reader, corpora and
# findings kept in build/fuzz/<reader>/; a table of executions and findings at the end (exit 1 on any).
FUZZ_SECONDS ?= 180
FUZZ_READERS ?=
fuzz: $(STAMP)
	$(BIN)/python fuzz/fuzz_readers.py --work build/fuzz --keep-going $(foreach r,$(FUZZ_READERS),--reader $(r)) \
		-max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=2048

# The documentation site, offline (no CDN, fonts or analytics): build/site/index.html. The reference
# pages are regenerated from the code first (commit them: tests/test_docs.py fails while they are stale).
docs: $(STAMP)
	$(BIN)/python scripts/gen_docs.py
	$(BIN)/mkdocs build --strict --site-dir build/site

# The wheel plus every runtime dependency in build/wheelhouse, for machines without registry access:
# pip install --no-index --find-links build/wheelhouse droneaudit   (see docs/getting-started.md)
wheelhouse: $(STAMP)
	$(BIN)/python scripts/wheelhouse.py --out build/wheelhouse

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache
