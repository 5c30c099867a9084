"""Building a named model (or any YAML config) without writing a command line.

:func:`create_model` goes the way of the command-line tools: the config is parsed by the same
parser (defaults < YAML < the given options), and :func:`cvnets.get_model` builds the model from
the registries. This package sits above ``options`` (which assembles the parser) and ``cvnets``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from torch import nn

from cvnets import get_model
from options import parse_options, training_parser
from options.values import convert_yaml_value, declared_actions
from parcnet.features import FeatureStages
from utils.distributed import revert_sync_batchnorm
from utils.errors import ConfigError
from utils.opts import Options
from utils.zoo import config_for, zoo_entry


def _config_path(name: str) -> Path:
    """The config of a named model, or ``name`` itself when it is a YAML file (as given, else under ``config/``)."""
    if str(name).endswith((".yaml", ".yml")) or os.sep in str(name):
        return config_for(str(name))
    return zoo_entry(name).config_path  # an unknown name raises with the closest ones


def _check_pretrained(pretrained: Any) -> None:
    """A one-line error naming the ``pretrained=`` argument for a file that is not there."""
    text = str(pretrained)
    if "://" in text:
        raise ConfigError(f"create_model: pretrained={text!r} is a URL: nothing is downloaded; download the file and "
                          f"pass its path")
    path = Path(text).expanduser()
    if not path.is_file():
        raise ConfigError(f"create_model: pretrained={text!r} not found (no file {path.absolute()})")


def _class_names(opts: Options) -> Optional[List[str]]:
    """The names of the outputs of trained weights, as the evaluation scripts name them: the
    classes of the config's training set, else the ``classes.json`` beside the weights, else
    ImageNet's for 1000 classes (logged as a guess); ``None`` without weights."""
    from data.class_names import classification_class_names, detection_class_names, segmentation_class_names

    task = getattr(opts, "dataset.category")
    if not getattr(opts, f"model.{task}.pretrained"):
        return None
    name_them = {"classification": classification_class_names, "detection": detection_class_names,
                 "segmentation": segmentation_class_names}[task]
    return name_them(opts, int(getattr(opts, f"model.{task}.n_classes")))


def _option_key(key: str, task: str, known: Dict[str, Any]) -> str:
    """``key`` as a declared dotted option: as given, else under ``model.<task>.``."""
    key = key.replace("-", "_")
    for candidate in (key, f"model.{task}.{key}"):
        if candidate in known:
            return candidate
    import difflib

    close = difflib.get_close_matches(key if "." in key else f"model.{task}.{key}", known, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ConfigError(f"create_model: unknown option '{key}'{hint}")


def model_options(name: str, pretrained: Optional[Union[str, os.PathLike]] = None,
                  num_classes: Optional[int] = None, **options: Any) -> Options:
    """The options :func:`create_model` builds from (the training parser's, so every key of the
    config and of ``--help`` is there). Arguments as for :func:`create_model`."""
    if pretrained is True:
        raise ConfigError("create_model: pretrained=True would need a download; pass the path of a local "
                          "checkpoint file (see pretrained_models/README.md)")
    parser = training_parser()
    opts = parse_options(parser, ["--common.config-file", str(_config_path(name))])
    task = getattr(opts, "dataset.category")
    actions = declared_actions(parser)
    given = dict(options)
    if num_classes is not None:
        given[f"model.{task}.n_classes"] = num_classes
    if pretrained:
        _check_pretrained(pretrained)
        given[f"model.{task}.pretrained"] = str(pretrained)
    for key, value in given.items():
        dotted = _option_key(key, task, actions)
        setattr(opts, dotted, convert_yaml_value(dotted, value, actions[dotted], "create_model"))
    return opts


def create_model(name: str, pretrained: Optional[Union[str, os.PathLike]] = None, num_classes: Optional[int] = None,
                 features_only: bool = False, **options: Any) -> nn.Module:
    """Build a model by name, as the training and evaluation tools build it from its config.

    >>> model = create_model("parcnet_s")                      # ParC-Net-S, 5,037,088 parameters
    >>> model = create_model("ssd_parcnet_s", pretrained="checkpoint_ema_avg.pt")
    >>> model = create_model("parcnet_xs", num_classes=10, classifier_dropout=0.0)
    >>> stages = create_model("parcnet_s", features_only=True)  # stages(x): 4 feature maps, strides 4 to 32

    Args:
        name: a name of :func:`cvnets.list_models` (``parcnet_s``, ``deeplabv3_mobilevit_xs``, ...)
            or the path of a YAML config.
        pretrained: a local weights file (a released ``state_dict`` such as ``checkpoint_ema_avg.pt``,
            or a training ``checkpoint.pt``), loaded with strict key matching; ``None``: random
            initialisation. Nothing is downloaded.
        num_classes: classes of the output (``model.<task>.n_classes``; detection and segmentation
            count the background); the config's when ``None``.
        features_only: return the feature stages of a classification model instead
            (:class:`parcnet.features.FeatureStages`: ``model(x)`` is the list of the stages' feature
            maps, ``model.feature_info`` their channels and strides); a one-line error for a model
            without feature stages.
        **options: further options, by their dotted key (``**{"model.classification.edge.scale":
            "scale_xs"}``) or, for keys under ``model.<task>.``, by the rest of the key
            (``classifier_dropout=0.0``). Values are typed and checked as YAML values are.

    Returns:
        The model on the CPU in eval mode (call ``.train()`` to train it), with batch
        normalization in place of synchronised batch normalization, the options it was built
        from in ``model.opts`` and, with ``pretrained``, the names of its outputs in
        ``model.class_names`` (the classes of the config's training set, else the ``classes.json``
        that training writes beside its checkpoints; ImageNet's for 1000 classes, said in the log
        as a guess; the indices when nothing is known), ``None`` without weights.
    """
    opts = model_options(name, pretrained, num_classes, **options)
    model = revert_sync_batchnorm(get_model(opts)).eval()
    if features_only:
        model = FeatureStages(model, str(name)).eval()
    model.opts = opts
    model.class_names = None if features_only else _class_names(opts)
    return model
