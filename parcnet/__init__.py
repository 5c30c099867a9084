"""The Python API of the ParC-Net framework: named models built as the command-line tools build them.

    >>> import parcnet
    >>> parcnet.list_models("detection")
    ['ssd_parcnet_s', 'ssd_mobilevit_s', 'ssd_mobilevit_xs', 'maskrcnn_parc_resnet50', 'maskrcnn_resnet50',
     'maskrcnn_parc_convnext_xt', 'maskrcnn_convnext_xt']
    >>> model = parcnet.create_model("parcnet_s", pretrained="checkpoint_ema_avg.pt")
    >>> probs = model(parcnet.load_image("cat.jpg", model)).softmax(1)
    >>> model.class_names[probs.argmax()]
    >>> stages = parcnet.create_model("parcnet_s", features_only=True)   # stages(x): 4 feature maps

This package sits above every other: it imports ``options`` (the parser), ``cvnets`` (the
registries) and ``data`` (the input transforms), and nothing imports it but the entry points.
"""
from parcnet.features import FeatureStages
from parcnet.images import load_image, preprocess
from parcnet.models import create_model, model_options
from utils.zoo import list_models

__all__ = ["FeatureStages", "create_model", "list_models", "load_image", "model_options", "preprocess"]
