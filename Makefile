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

.PHONY: help install peer run run-local test test-fast lint report tensorboard profile schema baseline predict score canary promote serve serve-stop bench bench-quality bench-serving bench-long bench-score compile-vertex schedule-vertex clean

install: $(INSTALLED)  ## create .venv and install the pinned stack (requirements/lock.txt)
# --compile-bytecode: uv writes no .pyc by default, and where PYTHONDONTWRITEBYTECODE is set (these machines)
# Python never caches one either, so every process would compile TensorFlow, TFX and Beam from source on
# import (tfx.v1: 56 s -> 18 s of CPU once compiled, measured on the CI machine kind).

$(INSTALLED): requirements/lock.txt requirements/embedded-defaults.txt requirements/serving-protos.txt setup.py
	@test -n "$(PYTHON310)" || { echo "error: Python 3.10 not found (tried python3.10 and pyenv's versions/3.10*): install Python 3.10"; exit 1; }
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --python $(PY) --no-deps --require-hashes --compile-bytecode \
		-r requirements/lock.txt -r requirements/embedded-defaults.txt
	$(VENV)/bin/uv pip install --python $(PY) --no-deps -e .
	$(VENV)/bin/uv pip install --python $(PY) --no-deps --require-hashes --compile-bytecode \
		--target $(VENV)/serving-protos -r requirements/serving-protos.txt
	touch $@

# Optional: the PyTorch + transformers peer the benchmarks compare against (Python 3.11: the CPU build of
# torch lies on these machines' disk for 3.11 only).
PEER_VENV := .venv-peer
PEER_INSTALLED := $(PEER_VENV)/.installed
PYTHON311 := $(shell for p in python3.11 $$(pyenv root 2>/dev/null)/versions/3.11*/bin/python3.11; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null && { echo "$$p"; break; }; done)

peer: $(PEER_INSTALLED)  ## install the benchmarks' peers into .venv-peer: PyTorch, transformers, ONNX Runtime (Python 3.11)
$(PEER_INSTALLED): requirements/peer-lock.txt $(INSTALLED)
	@test -n "$(PYTHON311)" || { echo "error: Python 3.11 not found: the peer needs it (make peer)"; exit 1; }
	test -x $(PEER_VENV)/bin/python || $(PYTHON311) -m venv $(PEER_VENV)
	$(VENV)/bin/uv pip install --python $(PEER_VENV)/bin/python --no-deps --require-hashes --compile-bytecode \
		--find-links /opt/wheels -r requirements/peer-lock.txt
	touch $@

run: $(INSTALLED)  ## train on the default data (or DATA=, CHECKPOINT=, SCHEMA=, ARGS=) and push a model
	$(PY) beam_runner.py $(RUN_FLAGS)

run-local: $(INSTALLED)  ## the same with TFX's LocalDagRunner
	$(PY) local_runner.py $(RUN_FLAGS)

# The whole suite (what CI runs after `make lint`); `make test-fast` leaves out the tests marked slow (a
# pipeline run or a training), for a loop of a few minutes while editing.
test: $(INSTALLED)  ## the whole test suite (what CI runs after make lint)
	$(PY) -m pytest --durations=15 tests

test-fast: $(INSTALLED)  ## the tests that run no pipeline and no training
	$(PY) -m pytest -m "not slow" tests

# ruff (ruff.toml) over the project's code; the package graph's direction is checked by tests/test_architecture.py.
lint: $(INSTALLED)  ## ruff over the project's code
	$(VENV)/bin/ruff check .

# The HTML report of a run (every run writes its own; this rebuilds one from ML Metadata):
# make report [RUN=<run id>] [OUTPUTS=outputs]; RUN=list lists the runs.
OUTPUTS ?= outputs
report: $(INSTALLED)  ## rebuild a run's HTML report (RUN=<run id>, RUN=list)
	$(PY) -m reports.run_report --outputs-dir $(OUTPUTS) $(if $(filter list,$(RUN)),--list,$(if $(RUN),--run $(RUN)))

# TensorBoard on every run's Trainer logs (one subdirectory per Trainer execution) and on `make profile`'s
# profiles (Profile tab), on http://127.0.0.1:6006: $(OUTPUTS)/tensorboard holds the profiles and a link to
# the Trainer's logs (the Profile tab reads only one real --logdir).
TB_DIR = $(abspath $(OUTPUTS))/tensorboard
tensorboard: $(INSTALLED)  ## TensorBoard on http://127.0.0.1:6006 over the training logs and profiles
	mkdir -p $(TB_DIR) && ln -sfn \
		"$$($(PY) -c 'import sys; sys.path.insert(0, "."); from pipeline import configs; \
		print(configs.PipelineConfig(outputs_dir="$(abspath $(OUTPUTS))").pipeline_root)')/Trainer/model_run" $(TB_DIR)/training
	$(VENV)/bin/tensorboard --host 127.0.0.1 --port $(or $(PORT),6006) --logdir $(TB_DIR)

# TensorBoard profiles of the pushed model's serving signature (batch 1 and 32) and of a training step, in
# $(OUTPUTS)/tensorboard: make profile [MODEL=<version dir | serving root>], then make tensorboard.
profile: $(INSTALLED)  ## TensorBoard profiles of serving (batch 1, 32) and of a training step
	$(PY) bench/profile_model.py --outputs-dir $(OUTPUTS) $(if $(MODEL),--model $(MODEL)) $(PROFILE_ARGS)

# make schema DATA=my.csv SCHEMA_OUT=schema/my/schema.pbtxt [ARGS="--text-column review --label-column stars"]
schema: $(INSTALLED)  ## infer a curated schema from your CSV: DATA=... SCHEMA_OUT=...
	@test -n "$(DATA)" -a -n "$(SCHEMA_OUT)" || { echo "usage: make schema DATA=my.csv SCHEMA_OUT=schema/my/schema.pbtxt"; exit 2; }
	$(PY) -m pipeline.schema_tool --data $(DATA) --out $(SCHEMA_OUT) $(ARGS)

# TF-IDF + logistic regression on the last run's split, beside the model: make baseline [ARGS=...as for run]
baseline: $(INSTALLED)  ## TF-IDF + logistic regression on the last run's split, beside its model
	$(PY) bench/tfidf_baseline.py $(ARGS)

# make predict ARGS='--text "lost my bag again"'   (or --input file.csv --output out.csv; see --help)
predict: $(INSTALLED)  ## classify texts with the pushed model, in-process (ARGS=--help)
	$(PY) -m serving.predict $(ARGS)

# Version labels in outputs/serving/models.config: `canary` onto the newest version, `stable` onto the canary's.
# SERVER=http://127.0.0.1:8501 moves a label only to a version TF Serving reports loaded.
# make score DATA=<csv | dir | 'data/span-{SPAN}/*.csv'> OUT=<dir> [MODEL=<version dir | serving root>]
#   [ARGS="--text-column ... --beam-workers N --beam-runner dataflow ..."]   (python -m pipeline.score --help)
score: $(INSTALLED)  ## score a data drop with the pushed model on Beam: DATA=... OUT=...
	@test -n "$(DATA)" -a -n "$(OUT)" || { echo "error: make score needs DATA=<csv file, directory or {SPAN} pattern> and OUT=<directory>"; exit 2; }
	$(PY) -m pipeline.score --data '$(DATA)' --out '$(OUT)' $(if $(MODEL),--model '$(MODEL)') $(ARGS)

canary: $(INSTALLED)  ## label the newest pushed version canary (SERVER= checks TF Serving loaded it)
	$(PY) -m serving.model_server_config canary $(if $(SERVER),--server $(SERVER))

promote: $(INSTALLED)  ## move the stable label to the canary version
	$(PY) -m serving.model_server_config promote $(if $(SERVER),--server $(SERVER))

# TF Serving + Prometheus + Grafana on the pushed models (serving_config/docker-compose.yml).
serve:  ## TF Serving + Prometheus + Grafana on the pushed models (Docker; GRAFANA_ADMIN_PASSWORD=...)
	@docker info >/dev/null 2>&1 || { echo "make serve: no Docker engine here ('docker info' failed): run it where Docker runs, or classify in-process with 'make predict'"; exit 1; }
	@test -n "$$GRAFANA_ADMIN_PASSWORD" || { echo "make serve: set GRAFANA_ADMIN_PASSWORD (Grafana's admin password; there is no default)"; exit 1; }
	@test -f outputs/serving/models.config || { echo "make serve: nothing pushed under outputs/serving yet: run 'make run' first"; exit 1; }
	SERVING_ROOT=$(abspath outputs/serving) docker compose -f serving_config/docker-compose.yml up -d
	@echo "REST http://127.0.0.1:8501/v1/models/text_classifier  gRPC 127.0.0.1:8500  Prometheus http://127.0.0.1:9090  Grafana http://127.0.0.1:3000"

# Compose reads the whole file to stop it: the variables it requires get placeholders (nothing is started).
serve-stop:  ## stop the serving stack (the models stay)
	SERVING_ROOT=$(abspath outputs/serving) GRAFANA_ADMIN_PASSWORD=unused docker compose -f serving_config/docker-compose.yml down

# Tokenization, training step and pipeline speed beside the PyTorch peer (`make peer` first for its columns);
# prints one table and writes it into bench/RESULTS.md. ARGS="--skip-pipeline" leaves out the default run.
bench: $(INSTALLED)  ## tokenizer, training step, pipeline and serving speed beside the PyTorch peer
	$(PY) bench/run_all.py $(ARGS)

# Each task's default command against a PyTorch + transformers fine-tune of the same checkpoint, on held-out rows
# neither trained on (`make peer` first); writes its table into bench/RESULTS.md. 41 min at 50da6da (AMD EPYC,
# 2 cores); ARGS="--tasks long_text" for one task.
bench-quality: $(INSTALLED)  ## each task's default command against a PyTorch + transformers fine-tune, on held-out rows
	$(PY) bench/quality.py $(ARGS)

# Serving latency and throughput of the pushed model, beside the PyTorch peer when `make peer` installed it.
bench-serving: $(INSTALLED)  ## serving latency and throughput beside PyTorch and ONNX Runtime
	$(PY) bench/serving_latency.py $(ARGS)

# Training and serving throughput on long documents at 512 word pieces per window (--long-text chunk).
bench-long: $(INSTALLED)  ## training and serving speed on long documents (512-piece windows)
	$(PY) bench/long_text_speed.py $(ARGS)

# make score (1 and 2 Beam workers) against the predict CLI on 20,000 corpus texts, whole commands, wall clock.
bench-score: $(INSTALLED)  ## make score against the predict CLI on 20,000 texts
	$(PY) bench/score_throughput.py $(ARGS)

# The Vertex AI Pipelines job spec (outputs/vertex/bert-text-classifier.json), compiled here, nothing sent:
# make compile-vertex PROJECT=my-project BUCKET=gs://my-bucket IMAGE=us-central1-docker.pkg.dev/my-project/tfx/bert:1
#   [DATA='gs://my-bucket/data/span-{SPAN}/*.csv'] [ARGS="--trainer-backend vertex --beam-runner dataflow ..."]
PROJECT ?= your-gcp-project
BUCKET ?= gs://your-gcp-project-tfx
IMAGE ?= us-central1-docker.pkg.dev/your-gcp-project/tfx/bert-text-classifier:latest
compile-vertex: $(INSTALLED)  ## compile the Vertex AI Pipelines job spec: PROJECT= BUCKET= IMAGE=
	$(PY) kubeflow_v2_runner.py --gcp-project $(PROJECT) --outputs-dir $(BUCKET)/bert-text-classifier \
		--data '$(or $(DATA),$(BUCKET)/data/*.csv)' --pipeline-image $(IMAGE) $(ARGS)

# Compiles, then creates a Vertex AI schedule that runs the job on a cron (default: configs.schedule_cron);
# DRY_RUN=1 prints the exact request and sends nothing:
# make schedule-vertex PROJECT=... BUCKET=... IMAGE=... DATA='gs://.../span-{SPAN}/*.csv' [CRON='TZ=Etc/UTC 0 */6 * * *'] [DRY_RUN=1]
schedule-vertex: compile-vertex  ## compile, then create a Vertex AI schedule (DRY_RUN=1 prints the request)
	$(PY) -m pipeline.schedule --gcp-project $(PROJECT) $(if $(CRON),--schedule-cron '$(CRON)') \
		$(if $(DRY_RUN),--dry-run) $(ARGS)

clean:  ## delete outputs/: every pushed model, the cache and ML Metadata
	rm -rf outputs

help:  ## this list
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  make %-16s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
