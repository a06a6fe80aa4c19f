# The front door. `make run` and `make test` are the README's contract:
# each sets up whatever is missing first (idempotent, fast when nothing changed).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# A children's service sends nothing to third parties: every process we start
# inherits these (Rasa telemetry and Sentry, Hugging Face hubs, TF noise).
export RASA_TELEMETRY_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DO_NOT_TRACK := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONPATH := $(CURDIR)
export PYTHONDONTWRITEBYTECODE := 1

# Paths of the two environments' pythons (cheap: nothing is installed here).
ENGINE_PY := $(shell scripts/setup_env.sh --path engine)
APP_PY := $(shell scripts/setup_env.sh --path app)
export ENGINE_PYTHON := $(ENGINE_PY)
export APP_PYTHON := $(APP_PY)

MODEL_DIR ?= models
TRAIN = $(ENGINE_PY) scripts/train_model.py --out $(MODEL_DIR)


.PHONY: netguard-start netguard-check
.PHONY: help setup train run demo test test-engine test-app test-scale validate conversation-tests \
        predict eval ask ask-batch audit lock clean

help:
	@echo "make run    set up, train if needed, start the bot: web chat on http://127.0.0.1:$${BOT_PORT:-8000}"
	@echo "make test   set up and run every test (unit, data, conversations, end-to-end)"
	@echo "make eval   recall on ../shared/eval/nlu_dev_sample.yml, false alarms on real text and everyday messages"
	@echo "make predict IN=messages.yml OUT=predictions.jsonl"
	@echo "make ask Q='...' [AUDIENCE=child|parent]   answer one question from the knowledge base"
	@echo "make ask-batch IN=questions.yml OUT=answers.jsonl"
	@echo "make demo   make run plus local fake Telegram and Zalo servers to chat through"

setup:
	@scripts/setup_env.sh engine >/dev/null
	@scripts/setup_env.sh app >/dev/null
	@scripts/disable_rasa_telemetry.sh $(ENGINE_PY)

# Trains only when the training inputs' content hash changed; prints the model path.
train: setup
	@$(TRAIN)

run: setup
	@MODEL=$$($(TRAIN)) && \
	  $(APP_PY) -m bot.init_data && \
	  exec $(APP_PY) -m devtools.stack --model "$$MODEL"

# Installation first, outside the network guard (it must reach the package
# registry); then the tests, in a second make whose every process is guarded.
test: setup
	@$(MAKE) --no-print-directory guarded-tests

# Every Python process of the test run records any connection or name lookup
# outside loopback (tests/netguard/sitecustomize.py); the run fails if any was made.
# (Target-specific variables reach a target's prerequisites too: that is why the
# guard is set on this inner target and not on `test`, whose prerequisite installs.)
NETGUARD_LOG := $(CURDIR)/results/netguard.log
.PHONY: guarded-tests
guarded-tests: netguard-start validate test-engine conversation-tests test-app netguard-check
guarded-tests: export NETGUARD_LOG := $(NETGUARD_LOG)
guarded-tests: export NETGUARD_MODE := record
guarded-tests: export PYTHONPATH := $(CURDIR)/tests/netguard:$(CURDIR)

netguard-start:
	@mkdir -p results && rm -f "$(NETGUARD_LOG)"

netguard-check:
	@if [ -s "$(NETGUARD_LOG)" ]; then echo "Traffic left loopback during the tests:"; cat "$(NETGUARD_LOG)"; exit 1; fi
	@echo "Network guard: no process of the test run connected outside loopback."

validate: setup
	$(ENGINE_PY) -m rasa data validate --domain domain.yml --data nlu/data stories --config config.yml --fail-on-warnings
	$(APP_PY) -m actions.knowledge_base validate

test-engine: setup
	$(ENGINE_PY) -m pytest -q tests/nlu tests/engine

conversation-tests: setup
	@MODEL=$$($(TRAIN)) && \
	  $(ENGINE_PY) -m rasa test core --model "$$MODEL" --stories tests/conversations/test_core_dialogues.yml \
	    --fail-on-prediction-errors --out results/conversations

test-app: setup
	@MODEL=$$($(TRAIN)) && MODEL="$$MODEL" $(APP_PY) -m pytest -q tests --ignore=tests/nlu --ignore=tests/engine -m "not chaos"

# Only the multi-process tests (two Rasa servers and two gateway workers on PostgreSQL
# and Redis, tests/scale); `make test` runs them too, with everything else, except the
# short chaos run (tests/scale/test_scale_chaos.py, marked `chaos`: minutes of the whole machine).
test-scale: setup
	@MODEL=$$($(TRAIN)) && MODEL="$$MODEL" $(APP_PY) -m pytest -q tests/scale

predict: setup
	@test -n "$(IN)" -a -n "$(OUT)" || { echo "usage: make predict IN=<messages.yml> OUT=<predictions.jsonl>"; exit 2; }
	@MODEL=$$($(TRAIN)) && $(ENGINE_PY) scripts/predict.py --model "$$MODEL" "$(IN)" "$(OUT)"

# Recall on the labelled sample, precision on real text and everyday child messages
# (their development halves; docs/real-text.md), scored in one model load.
EVAL_IN ?= ../shared/eval/nlu_dev_sample.yml
EVAL_PRECISION ?= tests/data/real_text/dev.yml tests/data/everyday_children_dev.yml
EVAL_SETS = $(EVAL_IN) $(EVAL_PRECISION)
eval_out = results/eval_$(subst /,_,$(patsubst ../%,%,$(basename $(1)))).jsonl
eval: setup
	@mkdir -p results
	@MODEL=$$($(TRAIN)) && $(ENGINE_PY) scripts/predict.py --model "$$MODEL" \
	  $(foreach f,$(EVAL_SETS),$(f) $(call eval_out,$(f)))
	@$(APP_PY) scripts/evaluate.py $(foreach f,$(EVAL_SETS),$(f) $(call eval_out,$(f)))

# Answers from the knowledge base through the same code path as the bot's
# action, intent classification included (the question is read from $Q).
ask: setup
	@test -n "$(Q)" || { echo 'usage: make ask Q="..." [AUDIENCE=child|parent]'; exit 2; }
	@MODEL=$$($(TRAIN)) && $(APP_PY) scripts/ask.py --model "$$MODEL" --engine-python "$(ENGINE_PY)" \
	  $(if $(AUDIENCE),--audience "$(AUDIENCE)") "$$Q"

ask-batch: setup
	@test -n "$(IN)" -a -n "$(OUT)" || { echo "usage: make ask-batch IN=<questions.yml> OUT=<answers.jsonl>"; exit 2; }
	@MODEL=$$($(TRAIN)) && $(APP_PY) scripts/ask.py --model "$$MODEL" --engine-python "$(ENGINE_PY)" \
	  --batch "$(IN)" --out "$(OUT)"

# make run, plus local fake Telegram and Zalo servers to chat through (devtools/).
demo:
	DEMO_CHANNELS=1 $(MAKE) --no-print-directory run

# Dependency audit of both lock files against PyPI's advisories (needs the
# registry's advisory API; exit 2 when it cannot check). Accepted findings:
# requirements/audit-allowlist.txt, each with its reason.
audit:
	scripts/audit_dependencies.sh

# Regenerate the lock files from requirements/*.in (needs the registry).
lock:
	scripts/lock.sh

clean:
	rm -rf results .pytest_cache

# Load benchmark (bench/load.py): N concurrent children through the full stack on
# PostgreSQL and Redis, side by side with plain Rasa REST; prints the tables kept in
# docs/performance.md. Minutes of full CPU: not part of `make test`.
# BENCH_ARGS="--quick" for a short round; see `bench/load.py --help`.
.PHONY: bench
bench: setup
	@MODEL=$$($(TRAIN)) && $(APP_PY) bench/load.py --model "$$MODEL" $(BENCH_ARGS)

# Faults under load (bench/chaos.py): the production shape (2 Rasa, 2 gateway workers, action
# server, a private PostgreSQL and Redis started for the run) under 50 simulated children for
# 10 minutes while a Rasa server, a gateway worker and the action server are killed, PostgreSQL
# crashes, Redis stops for 30 s and the fake Telegram answers 429 then 500; then the invariants,
# as the table kept in docs/reliability.md. Not part of `make test`.
# CHAOS_ARGS="--minutes 2" for a short round, "--seed N" for another draw; see `bench/chaos.py --help`.
.PHONY: chaos
chaos: setup
	@MODEL=$$($(TRAIN)) && $(APP_PY) bench/chaos.py --model "$$MODEL" $(CHAOS_ARGS)
