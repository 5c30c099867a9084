# make demo   create the environment if needed, train ParC-Net on the bundled digits, evaluate it
# make test   create the environment if needed, run the whole test suite

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
DEMO_DATA := data/demo/generated

.PHONY: all venv test demo demo-data clean help

all: help

help:
	@echo "make demo   train ParC-Net on the bundled digits and evaluate it (results/demo/)"
	@echo "make test   run the test suite"
	@echo "make venv   create $(VENV) and install requirements.txt"
	@echo "make clean  remove generated data and results"

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q tests

demo-data: $(STAMP)
	$(PY) -m data.demo.prepare --task classification --out $(DEMO_DATA)/digits

demo: demo-data
	rm -rf results/demo
	$(PY) main_train.py --common.config-file config/classification/demo/parcnet_digits.yaml
	$(PY) eval_cls.py --common.config-file config/classification/demo/parcnet_digits.yaml \
		--model.classification.pretrained results/demo/checkpoint_ema_avg.pt
	@echo "metrics: results/demo/eval_metrics.json"

clean:
	rm -rf $(DEMO_DATA) results
