"""The named models of the project: each name stands for one YAML config under ``config/``.

This table is what :func:`parcnet.list_models`, :func:`parcnet.create_model` and ``hubconf.py`` offer,
and a name is accepted wherever a config path is (``--common.config-file parcnet_s``); the model
itself is always built from its config by the registries (``cvnets.get_model``). The table needs
nothing but the standard library, so the command-line parser reads it before anything heavy is imported.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from utils.config_file import CONFIG_DIR, resolve_config_path
from utils.errors import ConfigError


@dataclass(frozen=True)
class ZooEntry:
    """A named model: its task, its config (relative to ``config/``), a readable title and, for a
    ParC model, the named model it is compared with in the papers (``baseline``)."""

    task: str
    config: str
    title: str
    baseline: Optional[str] = None

    @property
    def config_path(self) -> Path:
        return CONFIG_DIR / self.config


MODEL_ZOO: Dict[str, ZooEntry] = {
    "parcnet_xs": ZooEntry("classification", "classification/edgeformer/edgeformer_xs.yaml", "ParC-Net-XS"),
    "parcnet_s": ZooEntry("classification", "classification/edgeformer/edgeformer_s.yaml", "ParC-Net-S", "mobilevit_s"),
    "parcnet_h": ZooEntry("classification", "classification/edgeformer/edgeformer_h.yaml", "ParC-Net-H"),
    "mobilevit_xs": ZooEntry("classification", "classification/mobilevit/mobilevit_x_small.yaml", "MobileViT-XS"),
    "mobilevit_s": ZooEntry("classification", "classification/mobilevit/mobilevit_small.yaml", "MobileViT-S"),
    "parc_convnext_xt": ZooEntry("classification", "classification/parc_convnets/parc_convnext_xt.yaml",
                                 "ParC-ConvNeXt-XT", "convnext_xt"),
    "convnext_xt": ZooEntry("classification", "classification/parc_convnets/convnext_xt.yaml", "ConvNeXt-XT"),
    "parc_resnet50": ZooEntry("classification", "classification/parc_convnets/parc_resnet50.yaml", "ParC-ResNet50", "resnet50"),
    "resnet50": ZooEntry("classification", "classification/parc_convnets/resnet50.yaml", "ResNet50"),
    "parc_mobilenetv2": ZooEntry("classification", "classification/parc_convnets/parc_mobilenetv2.yaml",
                                 "ParC-MobileNetV2", "mobilenetv2"),
    "mobilenetv2": ZooEntry("classification", "classification/parc_convnets/mobilenetv2.yaml", "MobileNetV2"),
    "ssd_parcnet_s": ZooEntry("detection", "detection/edgeformer/ssd_edgeformer_s.yaml", "SSD ParC-Net-S", "ssd_mobilevit_s"),
    "ssd_mobilevit_s": ZooEntry("detection", "detection/mobilevit/ssd_mobilevit_small_320.yaml", "SSD MobileViT-S"),
    "ssd_mobilevit_xs": ZooEntry("detection", "detection/mobilevit/ssd_mobilevit_x_small_320.yaml",
                                 "SSD MobileViT-XS"),
    "maskrcnn_parc_resnet50": ZooEntry("detection", "detection/parc_convnets/maskrcnn_parc_resnet50.yaml",
                                       "Mask R-CNN ParC-ResNet50", "maskrcnn_resnet50"),
    "maskrcnn_resnet50": ZooEntry("detection", "detection/parc_convnets/maskrcnn_resnet50.yaml", "Mask R-CNN ResNet50"),
    "maskrcnn_parc_convnext_xt": ZooEntry("detection", "detection/parc_convnets/maskrcnn_parc_convnext_xt.yaml",
                                          "Mask R-CNN ParC-ConvNeXt-XT", "maskrcnn_convnext_xt"),
    "maskrcnn_convnext_xt": ZooEntry("detection", "detection/parc_convnets/maskrcnn_convnext_xt.yaml",
                                     "Mask R-CNN ConvNeXt-XT"),
    "deeplabv3_parcnet_s": ZooEntry("segmentation", "segmentation/edgeformer/deeplabv3_edgeformer_s.yaml",
                                    "DeepLabV3 ParC-Net-S", "deeplabv3_mobilevit_s"),
    "deeplabv3_mobilevit_s": ZooEntry("segmentation", "segmentation/mobilevit/deeplabv3_mobilevit_small.yaml",
                                      "DeepLabV3 MobileViT-S"),
    "deeplabv3_mobilevit_xs": ZooEntry("segmentation", "segmentation/mobilevit/deeplabv3_mobilevit_x_small.yaml",
                                       "DeepLabV3 MobileViT-XS"),
    "upernet_parc_resnet50": ZooEntry("segmentation", "segmentation/parc_convnets/upernet_parc_resnet50.yaml",
                                      "UperNet ParC-ResNet50", "upernet_resnet50"),
    "upernet_resnet50": ZooEntry("segmentation", "segmentation/parc_convnets/upernet_resnet50.yaml",
                                 "UperNet ResNet50"),
    "upernet_parc_convnext_xt": ZooEntry("segmentation", "segmentation/parc_convnets/upernet_parc_convnext_xt.yaml",
                                         "UperNet ParC-ConvNeXt-XT", "upernet_convnext_xt"),
    "upernet_convnext_xt": ZooEntry("segmentation", "segmentation/parc_convnets/upernet_convnext_xt.yaml",
                                    "UperNet ConvNeXt-XT"),
    "upernet_parc_mobilenetv2": ZooEntry("segmentation", "segmentation/parc_convnets/upernet_parc_mobilenetv2.yaml",
                                         "UperNet ParC-MobileNetV2", "upernet_mobilenetv2"),
    "upernet_mobilenetv2": ZooEntry("segmentation", "segmentation/parc_convnets/upernet_mobilenetv2.yaml",
                                    "UperNet MobileNetV2"),
}


def list_models(task: Optional[str] = None) -> List[str]:
    """Names accepted by :func:`parcnet.create_model` and ``torch.hub.load``.

    Args:
        task: ``classification``, ``detection`` or ``segmentation`` to list only that task's models.

    Returns:
        The names, in the order of the table (classification, detection, segmentation).
    """
    if task is not None and task not in {e.task for e in MODEL_ZOO.values()}:
        raise ConfigError(f"unknown task {task!r}; choose one of: classification, detection, segmentation")
    return [name for name, entry in MODEL_ZOO.items() if task is None or entry.task == task]


def _closest(name: str) -> List[str]:
    return difflib.get_close_matches(name, MODEL_ZOO, n=3, cutoff=0.5)


def zoo_entry(name: str) -> ZooEntry:
    """The table entry of ``name``; a :class:`ConfigError` with the closest names otherwise."""
    if name not in MODEL_ZOO:
        close = _closest(name)
        hint = f" (did you mean {', '.join(close)}?)" if close else f"; choose one of: {', '.join(MODEL_ZOO)}"
        raise ConfigError(f"unknown model {name!r}{hint}")
    return MODEL_ZOO[name]


def config_for(name: str) -> Path:
    """The YAML config that ``name`` stands for: a config path (as given, else under ``config/``)
    or a model name of :func:`list_models`.

    Args:
        name: ``config/classification/edgeformer/edgeformer_s.yaml``,
            ``classification/edgeformer/edgeformer_s.yaml`` or ``parcnet_s``.

    Returns:
        The path of the config file.

    Raises:
        ConfigError: neither a config file nor a model name, with the closest model names.
    """
    if name in MODEL_ZOO and not Path(name).expanduser().is_file():
        return MODEL_ZOO[name].config_path
    try:
        return resolve_config_path(name)
    except ConfigError as exc:
        if Path(name).suffix in (".yaml", ".yml") or len(Path(name).parts) > 1 or "not found" not in str(exc):
            raise
        close = _closest(name)
        hint = f"did you mean {', '.join(close)}?" if close else "parcnet.list_models() lists them"
        raise ConfigError(f"{exc}; nor is {name!r} a model name ({hint})") from None
