"""Registries of the model families, one per task."""
from utils.registry import Registry

CLS_MODEL_REGISTRY = Registry("classification model", option="model.classification.name")
DET_MODEL_REGISTRY = Registry("detection model", option="model.detection.name")
SEG_MODEL_REGISTRY = Registry("segmentation model", option="model.segmentation.name")
SEG_HEAD_REGISTRY = Registry("segmentation head", option="model.segmentation.seg_head")
