"""INT8 post-training quantization, shared by the runtimes: which layer groups stay float32,
chosen by measurement, and what the sidecar records.

Each runtime (:mod:`deploy.quantize_onnx`, :mod:`deploy.executorch_export`) gives a ``measure``
function: the mean relative error of the INT8 model against the float32 one on the calibration
images with some groups (:data:`deploy.layer_groups.GROUPS`) kept float32. The model is measured
with every group quantized, then with each group present kept float32 in turn; a group stays
float32 when keeping it so cuts the error by at least :data:`MIN_GAIN` of the all-INT8 error, and
the groups of :data:`ALWAYS_FLOAT` stay float32 in any case.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Sequence, Tuple

MIN_GAIN = 0.2  # the share of the all-INT8 error a group must remove to stay float32
# groups kept float32 whatever the error measure says: an SSD export's box decoding. Its 8-bit box
# corners cost the SSD demo 13 AP (31.2 against 44.5 float32; 44.0 with the decoding float32),
# while the relative error, dominated by the class scores, fell by only 9 % when it stayed float32
ALWAYS_FLOAT = ("decoder",)

Measure = Callable[[Tuple[str, ...]], float]


def choose_float_groups(present: Sequence[str], measure: Measure) -> Tuple[List[str], Dict[str, float]]:
    """The groups to keep float32, and the errors measured.

    Args:
        present: the groups the model has (in :data:`deploy.layer_groups.GROUPS` order).
        measure: the INT8 model's error with the given groups kept float32 (``inf`` when that model
            cannot run).

    Returns:
        The groups kept float32 and ``{"none": all-INT8 error, group: error with it kept float32}``.
    """
    baseline = measure(())
    errors = {"none": baseline}
    kept = []
    for group in present:
        errors[group] = measure((group,))
        if group in ALWAYS_FLOAT or not math.isfinite(baseline) or errors[group] <= (1.0 - MIN_GAIN) * baseline:
            kept.append(group)
    return kept, errors


def settings_record(runtime: str, scheme: Dict[str, Any], count: int, kept: Sequence[str],
                    errors: Dict[str, float], measured: Dict[str, float]) -> Dict[str, Any]:
    """The sidecar's ``quantization`` entry.

    Args:
        runtime: what quantized the model (``onnxruntime static QDQ``, ``PT2E XNNPACKQuantizer``).
        scheme: the runtime's settings (formats, per-channel weights, calibration method).
        count: calibration images used.
        kept: groups kept float32.
        errors: the measurements that chose them (mean relative error per choice).
        measured: the final model's agreement (:func:`deploy.agreement.agreement`).
    """
    return {
        "dtype": "int8",
        "method": runtime,
        **scheme,
        "calibration_images": count,
        "calibration_source": "dataset.root_train, validation transform",
        "kept_float32": list(kept),
        "kept_float32_rule": (f"a layer group stays float32 when keeping it so cuts the all-INT8 mean relative error "
                              f"on the calibration images by at least {MIN_GAIN:.0%}; always: "
                              f"{', '.join(ALWAYS_FLOAT)}"),
        "group_errors": {name: (value if math.isfinite(value) else None) for name, value in errors.items()},
        "agreement": measured,
    }
