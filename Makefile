# Every target runs inside the project's runtime (see tooling/runtime.py),
# which the first target to need it builds from nothing.
.DEFAULT_GOAL := help
SHELL := /bin/bash
RUNTIME := python3 -m tooling.runtime
IN_RUNTIME := $(RUNTIME) exec --
DATA_DIR ?= out/data/flights
FIXTURE_DIR := tests/fixtures/flights
PYTEST_ARGS ?=

.PHONY: help setup run serving rollback test calibrate bench bench-model bench-scale compile image kfp-check gcs-check portable-check data schema fixtures config-schema lint format lock

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

setup:  ## build the runtime (a venv, or a Debian 13 rootfs on older hosts); no-op when built
	@$(RUNTIME) setup

CONFIG ?= configs/flights.yaml
run: setup  ## main job: the pipeline on LocalDagRunner (CONFIG=configs/flights.yaml; spans made on first use)
	@$(IN_RUNTIME) python -m console.cli run --config $(CONFIG)

serving: setup  ## list CONFIG's pushed versions: serving, previous, rolled back, with run and gate metrics
	@$(IN_RUNTIME) python -m console.cli serving list --config $(CONFIG)

rollback: setup  ## serve the previous version again: the newest is moved aside (kept) and skipped as a baseline
	@$(IN_RUNTIME) python -m console.cli serving rollback --config $(CONFIG)

SEEDS ?= 5
calibrate: setup  ## train CONFIG's window SEEDS times: the gate metric's seed spread and suggested allowances (ARGS="--first-seed 53")
	@$(IN_RUNTIME) python -m console.cli calibrate --config $(CONFIG) --seeds $(SEEDS) $(ARGS)

BENCH_ARGS ?= --scales 2 4 --full-year --write
bench: setup  ## every pipeline stage against its limit, side by side, into bench/RESULTS.md (BENCH_ARGS; its duration is in RESULTS)
	@$(IN_RUNTIME) python -m bench.pipeline_stages --config $(CONFIG) $(BENCH_ARGS)
	@$(IN_RUNTIME) python -m bench.trainer_input --config $(CONFIG) --repeats 3 --output-root out/bench/stages/mode-multi_processing

bench-scale: setup  ## the Evaluator (with a baseline) and the Trainer at 1x, 8x and 32x the rows: time and peak memory (ARGS="--scales 1 8")
	@$(IN_RUNTIME) python -m bench.scale --config $(CONFIG) $(ARGS)

bench-model: setup  ## multi-head vs one model per head vs LightGBM vs naive, BENCH_SEEDS=3 (ARGS="--train-spans 1 2 ... --eval-span 12")
	@$(IN_RUNTIME) python -m bench.model_comparison --config $(CONFIG) --seeds $(or $(BENCH_SEEDS),3) $(ARGS)

test: setup  ## set up and run ruff, the import layers (lint-imports) and the whole test suite
	@$(IN_RUNTIME) ruff check .
	@$(IN_RUNTIME) lint-imports --no-cache
	@$(IN_RUNTIME) python -m pytest $(PYTEST_ARGS)

compile: setup  ## compile for Kubeflow Pipelines v2 (CONFIG's kubeflow: section): out/kubeflow/<name>.yaml (KFP), .vertex.json
	@$(IN_RUNTIME) python -m console.cli compile --config $(CONFIG)

IMAGE ?= localhost/multihead-tfx:local
image:  ## build the container image here with podman (TARGET=cpu|gpu; installs podman and runc if missing)
	@python3 -m container.image --target $(or $(TARGET),cpu) --tag $(IMAGE)

kfp-check: setup image  ## the compiled pipeline task by task in the image, as KFP's driver and launcher would, on an S3 store
	@python3 -m container.kfp_check --image $(IMAGE)

gcs-check: setup  ## the fixture pipeline with every location on gs:// (an emulator; TF's and Beam's own clients), serving, rollback
	@$(IN_RUNTIME) python -m orchestration.gcs_check

portable-check: setup  ## the fixture pipeline's Beam stages through Beam's Job API (job service + EXTERNAL worker pool) vs the DirectRunner
	@$(IN_RUNTIME) python -m orchestration.portable_check

data: setup  ## write the 12 monthly flights spans to DATA_DIR (FRACTION=0.1 for a sample)
	@$(IN_RUNTIME) python -m console.cli data --out $(DATA_DIR) --fraction $(or $(FRACTION),1)

schema: setup  ## draft schemas/NAME/schema.pbtxt and configs/NAME.yaml from a CSV (CSV= NAME= LABELS="a b" SPAN=column)
	@$(IN_RUNTIME) python -m console.cli schema --csv $(CSV) --name $(NAME) $(foreach label,$(LABELS),--label $(label)) --span-column $(SPAN)

fixtures: setup  ## regenerate the small committed test fixtures (flights, penguins)
	@$(IN_RUNTIME) python -m converters.flights --out $(FIXTURE_DIR) --fraction 0.01 --months 1 2 3
	@$(IN_RUNTIME) python -m converters.csv_spans --csv palmerpenguins \
	  --schema schemas/penguins/schema.pbtxt --span-column year --out tests/fixtures/penguins

config-schema: setup  ## write configs/pipeline-config.schema.json (what editors read) from the config models
	@$(IN_RUNTIME) python -m pipeline.config_schema

lint: setup  ## ruff and the import layers (lint-imports), configured in pyproject.toml
	@$(IN_RUNTIME) ruff check .
	@$(IN_RUNTIME) lint-imports --no-cache
	@$(IN_RUNTIME) ruff format --check .

format: setup  ## apply ruff's fixes and formatting
	@$(IN_RUNTIME) ruff check --fix .
	@$(IN_RUNTIME) ruff format .

LOCK_FLAGS := --python-version 3.13 --python-platform x86_64-manylinux_2_39 --generate-hashes --quiet
lock: setup  ## recompile requirements.lock (CPU pins, then the GPU image's `#gpu:` pins), in one go
	@$(IN_RUNTIME) sh -c 'uv pip compile requirements.in -o requirements.lock $(LOCK_FLAGS) && \
	  echo "tensorflow[and-cuda]==2.21.0" > /tmp/gpu.in && \
	  uv pip compile /tmp/gpu.in -c requirements.lock -o /tmp/gpu.lock $(LOCK_FLAGS) && \
	  python -m tooling.lockfile /tmp/gpu.lock requirements.lock'
