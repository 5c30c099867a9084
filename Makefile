# make demo      create the environment if needed, train ParC-Net on the bundled digits, evaluate it
#                (run again, it continues an interrupted run, or says that the run is complete, and
#                evaluates it: an earlier run is never deleted; DEMO_RUN=name trains another one)
# make test      create the environment if needed, run the test suite (all but the tests marked slow)
# make test-all  the whole test suite, slow tests included
# make demo-det  SSD with a ParC-Net backbone on digits pasted on backgrounds (COCO format), COCO AP
# make demo-seg  DeepLabV3 with a ParC-Net backbone on the same kind of pictures (VOC format), mIoU
#                (both start from the backbone `make demo` trains, as the paper's start from ImageNet)
# make demo-maskrcnn  Mask R-CNN with a ParC-Net backbone on the COCO-format pictures, box and mask AP
# make demo-upernet   UperNet with a ParC-Net backbone on ADE20K-format pictures, mIoU

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
DEMO_DATA := data/demo/generated
DEMO_RUN ?= demo
BACKBONE := results/$(DEMO_RUN)/checkpoint_ema_avg.pt
DEMO_CONFIG := config/classification/demo/parcnet_digits.yaml

.PHONY: all venv test test-all demo demo-data demo-det demo-seg demo-maskrcnn demo-upernet clean help

all: help

help:
	@echo "make demo   train ParC-Net on the bundled digits and evaluate it (results/demo/; again: continue or re-evaluate it)"
	@echo "make test   run the test suite (make test-all: with the slow tests)"
	@echo "make demo-det / make demo-seg   detection and segmentation demos (results/demo_det/, results/demo_seg/)"
	@echo "make demo-maskrcnn / make demo-upernet   Mask R-CNN and UperNet demos (results/demo_maskrcnn/, results/demo_upernet/)"
	@echo "make venv   create $(VENV) and install requirements.txt"
	@echo "make clean  remove generated data and results"

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

test-all: $(STAMP)
	$(PY) -m pytest -q tests

# --overwrite: the generated set (data/demo/generated/, nothing else) is written again, the same
# pictures for the same seed, and replaces the earlier one once complete
demo-data: $(STAMP)
	$(PY) -m data.demo.prepare --task classification --out $(DEMO_DATA)/digits --overwrite

# --common.auto-resume: continue results/$(DEMO_RUN) after an interruption; a complete run says so
# --evaluation.overwrite: evaluating the run again replaces its earlier eval_metrics.json
demo: demo-data
	$(PY) main_train.py --common.config-file $(DEMO_CONFIG) --common.run-label $(DEMO_RUN) --common.auto-resume
	$(PY) eval_cls.py --common.config-file $(DEMO_CONFIG) --common.run-label $(DEMO_RUN) \
		--model.classification.pretrained results/$(DEMO_RUN)/checkpoint_ema_avg.pt --evaluation.overwrite
	@echo "metrics: results/$(DEMO_RUN)/eval_metrics.json"

$(BACKBONE):
	$(MAKE) demo

# $(call task_demo,task,data folder,config,evaluation script,run label,data task,evaluation options):
# prepare the data, train from the demo backbone (continuing an interrupted run; a complete run says
# so), evaluate the EMA average on the held-out split (replacing the run's earlier evaluation), as
# make demo does
define task_demo
	$(PY) -m data.demo.prepare --task $(6) --out $(DEMO_DATA)/$(2) --overwrite
	$(PY) main_train.py --common.config-file $(3) --model.classification.pretrained $(BACKBONE) --common.auto-resume
	$(PY) $(4) --common.config-file $(3) --model.$(1).pretrained results/$(5)/checkpoint_ema_avg.pt \
		--evaluation.$(1).mode validation_set --evaluation.overwrite $(7)
	@echo "metrics: results/$(5)/eval_metrics.json"
endef

demo-det: $(STAMP) $(BACKBONE)
	$(call task_demo,detection,digits_coco,config/detection/demo/ssd_parcnet_digits.yaml,eval_det.py,demo_det,detection,--evaluation.detection.resize-input-images)

demo-seg: $(STAMP) $(BACKBONE)
	$(call task_demo,segmentation,digits_voc,config/segmentation/demo/deeplabv3_parcnet_digits.yaml,eval_seg.py,demo_seg,segmentation,--evaluation.segmentation.resize-input-images)

# both evaluate the pictures at their own size (Mask R-CNN resizes its inputs itself)
demo-maskrcnn: $(STAMP) $(BACKBONE)
	$(call task_demo,detection,digits_coco,config/detection/demo/maskrcnn_parcnet_digits.yaml,eval_det.py,demo_maskrcnn,detection,)

demo-upernet: $(STAMP) $(BACKBONE)
	$(call task_demo,segmentation,digits_ade,config/segmentation/demo/upernet_parcnet_digits.yaml,eval_seg.py,demo_upernet,ade20k,)

clean:
	rm -rf $(DEMO_DATA) results
