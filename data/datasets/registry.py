"""Registry of the datasets, selected by ``dataset.name``."""
from utils.registry import Registry

DATASET_REGISTRY = Registry("dataset", option="dataset.name")
