# One-command entry points. `make run` and `make test` install what they need first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
UV_VERSION := 0.13.9

# Python 3.10: on PATH if it answers, else where pyenv keeps it.
PYTHON310 := $(shell for p in python3.10 $$(pyenv root 2>/dev/null)/versions/3.10*/bin/python3.10 \
	/usr/local/bin/python3.10 /usr/bin/python3.10; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo "$$p"; break; }; done)

# make run DATA=my.csv CHECKPOINT=dir [SCHEMA=schema.pbtxt] [ARGS="--epochs 2 ..."]
RUN_FLAGS := $(if $(DATA),--data $(DATA)) $(if $(CHECKPOINT),--checkpoint $(CHECKPOINT)) \
	$(if $(SCHEMA),--schema $(SCHEMA)) $(ARGS)

export TF_USE_LEGACY_KERAS := 1
export HF_HUB_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: install run run-local test schema baseline clean

install: $(INSTALLED)

$(INSTALLED): requirements/lock.txt requirements/embedded-defaults.txt setup.py
	@test -n "$(PYTHON310)" || { echo "error: Python 3.10 not found (tried python3.10 and pyenv's versions/3.10*): install Python 3.10"; exit 1; }
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --python $(PY) --no-deps --require-hashes \
		-r requirements/lock.txt -r requirements/embedded-defaults.txt
	$(VENV)/bin/uv pip install --python $(PY) --no-deps -e .
	touch $@

run: $(INSTALLED)
	$(PY) beam_runner.py $(RUN_FLAGS)

run-local: $(INSTALLED)
	$(PY) local_runner.py $(RUN_FLAGS)

test: $(INSTALLED)
	$(PY) -m pytest tests

# make schema DATA=my.csv SCHEMA_OUT=schema/my/schema.pbtxt [ARGS="--text-column review --label-column stars"]
schema: $(INSTALLED)
	@test -n "$(DATA)" -a -n "$(SCHEMA_OUT)" || { echo "usage: make schema DATA=my.csv SCHEMA_OUT=schema/my/schema.pbtxt"; exit 2; }
	$(PY) -m pipeline.schema_tool --data $(DATA) --out $(SCHEMA_OUT) $(ARGS)

# TF-IDF + logistic regression on the last run's split, beside the model: make baseline [ARGS=...as for run]
baseline: $(INSTALLED)
	$(PY) bench/tfidf_baseline.py $(ARGS)

clean:
	rm -rf outputs
