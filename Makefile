# Two commands do all the set-up on a fresh machine:
#   make demo   -- create .venv, then run the main job end to end on the generated sample
#   make test   -- create .venv, then run ruff and pytest (2 workers: TEST_WORKERS=N to change)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest workers: one per core on the 2-core CI box; each test file stays on one worker
TEST_WORKERS ?= 2

.PHONY: demo test lint venv clean sample

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

demo: $(STAMP)
	$(BIN)/ews demo

# Regenerate the committed sample byte for byte (see data/sample/README.md).
sample: $(STAMP)
	$(BIN)/ews generate --debtors 5000 --months 36 --seed 7 --annual-default-rate 0.09 \
	    --volume-scale 0.3 --start 2023-01-01 --out data/sample

clean:
	rm -rf $(VENV) data/runs data/demo
