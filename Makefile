# The two commands: `make run` (set up, train if stale, start) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_310 ?= $(shell ls -d $$(pyenv root 2>/dev/null)/versions/3.10.*/bin/python3.10 2>/dev/null | tail -1 || command -v python3.10)
VENV := .venv
BIN := $(VENV)/bin
MODEL := models/triage.tar.gz
RASA := $(BIN)/rasa

export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 2
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONWARNINGS := ignore::DeprecationWarning

.PHONY: help install train run cluster gateway test lint validate pytest story-test eval bench lock clean browser report cjk-font bench-scale bench-faults benchmark-nlu profile

help:
	@echo "make run    set up, train if needed, start the bot (:5005) and actions (:5055)"
	@echo "make test   set up and run every test (lint, validate, pytest, rasa test, NLU eval)"
	@echo "make lint   ruff (lint and format check) and mypy on bot/ and actions/ (pyproject.toml)"
	@echo "make cluster  two Rasa instances on PostgreSQL, Redis and RabbitMQ behind nginx (:8000)"
	@echo "make report   the containment report from the stores (reports/triage-report.html)"
	@echo "make benchmark-nlu  NLU against baselines (5-fold CV + held-out), robustness, threshold curve (~30 min)"
	@echo "make bench-scale  Locust: ours against stock Rasa, the cluster of 1-3 instances behind nginx (~45 min)"
	@echo "make profile  where the Rasa server's CPU goes under load (py-spy)"
	@echo "make bench-faults  kill the action server, an instance, cut PostgreSQL: what users notice (~3 min)"
	@echo "make train | eval | bench | install | lock | clean"

WEB_DEPS := bot/web/node_modules/.package-lock.json
CHROMIUM ?= /usr/bin/chromium

install: $(VENV)/.installed $(WEB_DEPS)

# The widget's socket.io browser client, and rasa-webchat for the
# compatibility page and its browser test (devDependencies), from the npm
# registry (pinned by package-lock.json) and served by our own web server:
# no CDN at run time.
$(WEB_DEPS): bot/web/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js (the web widget needs socket.io-client)"; exit 1; }
	cd bot/web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The browser tests drive Debian's Chromium (never a downloaded browser),
# with a Chinese font so pages and screenshots show characters, not boxes.
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -f $(CJK_FONT) ]; then \
		echo "Installing Debian's chromium and fonts-wqy-microhei for the browser tests"; \
		apt-get install -y -q chromium fonts-wqy-microhei >/dev/null || \
		{ apt-get update -q && apt-get install -y -q chromium fonts-wqy-microhei; }; fi

$(VENV)/.installed: requirements.txt
	@test -n "$(PYTHON_310)" || { echo "Python 3.10 not found (looked in pyenv versions)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON_310) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip==24.0
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

# rasa train skips unchanged parts itself; the jieba dictionary is not in its
# fingerprint, so a newer dictionary forces a full retrain.
train: install
	@force=""; if [ -f $(MODEL) ] && [ -n "$$(find bot/knowledge/dictionary -newer $(MODEL))" ]; then force="--force"; fi; \
	$(RASA) train --fixed-model-name triage --out models $$force

# supervisord runs the action server, Rasa and the widget page, and restarts
# any of them that dies; Ctrl-C or SIGTERM stops them all (bot/launcher/).
run: train
	$(BIN)/python -m bot.launcher

# Production profile on this machine: one entry point on :8000 (nginx) in
# front of Rasa on :5005 and :5006, which share PostgreSQL, Redis and
# RabbitMQ; one action server on :5055 (see README).
cluster: train gateway
	$(BIN)/python -m bot.launcher --profile production --instances 2

# The cluster's load balancer is Debian's nginx, installed like Chromium.
gateway:
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
		echo "Installing Debian's nginx for the cluster's single entry point"; \
		apt-get install -y -q nginx >/dev/null || \
		{ apt-get update -q && apt-get install -y -q nginx; }; fi

# Settings in pyproject.toml; `$(BIN)/ruff format bot actions` fixes the formatting.
lint: install
	$(BIN)/ruff check bot actions
	$(BIN)/ruff format --check bot actions
	$(BIN)/mypy bot actions

validate: install
	$(RASA) data validate --fail-on-warnings

pytest: train browser gateway
	$(BIN)/python -m pytest tests -q -p no:cacheprovider

story-test: train
	$(RASA) test core --model $(MODEL) --stories tests/test_stories.yml \
		--out results/stories --fail-on-prediction-errors

# Both held-out sets on the trained model, one gate per set, a little under
# what the model reaches (docs/benchmarks.md, "NLU"; training is not bit-repeatable).
# Quoted: `>=` would be a shell redirection. Output: reports/nlu/<set>/, summary.json.
eval: train
	$(BIN)/python -m bot.evaluation.nlu --out reports/nlu \
		--set heldout=tests/nlu_heldout.yml --set realistic=tests/nlu_realistic.yml \
		--gate 'heldout:accuracy>=0.95,oos_caught>=0.95,wrongly_escalated<=0.03' \
		--gate 'realistic:in_scope_accuracy>=0.94,oos_caught>=0.92,wrongly_escalated<=0.035'

test: lint validate pytest story-test eval

# Not part of `make test`: trains 18 NLU models (3 systems x (5 folds + all
# data)) and writes reports/nlu-benchmark/ (benchmark.md, benchmark.json,
# threshold_curve.png). It trains its own models, so it needs no `make train`.
benchmark-nlu: install
	$(BIN)/python -m bot.evaluation.benchmark --out reports/nlu-benchmark

# Service-insight report: reports/triage-report.html + reports/triage-report-data/*.csv
# e.g. make report REPORT_ARGS="--from 2026-11-01 --to 2026-11-30 --profile production"
report: install cjk-font
	$(BIN)/python -m bot.report $(REPORT_ARGS)

# Chinese labels in the report's charts (Debian's WenQuanYi Micro Hei).
cjk-font:
	@if [ ! -f $(CJK_FONT) ]; then echo "Installing fonts-wqy-microhei for the report's charts"; \
		apt-get install -y -q fonts-wqy-microhei >/dev/null || \
		{ apt-get update -q && apt-get install -y -q fonts-wqy-microhei; }; fi

bench: train
	$(BIN)/python bench/latency.py

# Scale: Locust (bench/locustfile.py, REST and socket.io) against one instance
# (production and embedded profiles) and the stock configuration in the same
# run, turn 1 against turn 200, then 1, 2 and 3 instances behind the gateway at
# 10, 50 and 200 people; training and start-up; memory per process (about 45
# minutes, plus 4 to train the stock model; bench/results/scale.json and .md,
# Locust's CSV in bench/results/locust/, the plot docs/scale_cluster.png).
bench-scale: train
	$(BIN)/python bench/scale.py --wait-for-quiet 900

# What users notice while parts of `make cluster` fail: the action server, then
# one instance are killed, then PostgreSQL is cut for 10 s, with ten
# conversations running (about 3 minutes; bench/results/faults.json).
bench-faults: train gateway
	$(BIN)/python bench/faults.py

# Where one Rasa server's CPU goes under load: py-spy samples it while 10
# conversations run without pauses (production profile; raw samples in bench/results/).
profile: train
	$(BIN)/python bench/profile_server.py

lock: install
	$(BIN)/python -m pip freeze | grep -v '^-e' > requirements.txt.new
	@{ head -2 requirements.txt; cat requirements.txt.new; } > requirements.txt.tmp && mv requirements.txt.tmp requirements.txt && rm requirements.txt.new

clean:
	rm -rf results reports .pytest_cache
