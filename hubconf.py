"""torch.hub entry points: one per named model, each building it as ``parcnet.create_model`` does.

    model = torch.hub.load("path/to/this/checkout", "parcnet_s", source="local",
                           pretrained="checkpoint_ema_avg.pt")

Every entry takes the arguments of :func:`parcnet.create_model` (``pretrained`` is the
path of a local weights file: nothing is downloaded).
"""
from typing import Any, Callable

dependencies = ["torch", "torchvision", "yaml", "cv2"]

from utils.zoo import MODEL_ZOO as _MODEL_ZOO  # noqa: E402  (torch.hub reads `dependencies` first)
from parcnet import create_model as _create_model  # noqa: E402


def _hub_entry(name: str) -> Callable[..., Any]:
    entry = _MODEL_ZOO[name]

    def build(pretrained: Any = None, num_classes: Any = None, **options: Any) -> Any:
        return _create_model(name, pretrained=pretrained, num_classes=num_classes, **options)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = (f"{entry.title} ({entry.task}), built from config/{entry.config}.\n\n"
                     f"Args: pretrained (local weights file or None), num_classes, **options: "
                     f"as for parcnet.create_model.")
    return build


for _name in _MODEL_ZOO:
    globals()[_name] = _hub_entry(_name)
