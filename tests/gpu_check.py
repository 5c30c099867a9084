"""A short check of the CUDA paths, for a machine with GPUs (not part of the test suite).

    python tests/gpu_check.py [--out /tmp/gpu_check] [--epochs 1]

On the bundled digits it runs, each as its own command line: the plain ``python main_train.py``
launch on every visible GPU (one process per GPU, NCCL) with fp16 mixed precision and
channels_last for classification, SSD detection and DeepLabV3 segmentation; a torchrun launch of
one process (an NCCL process group even on a single GPU); and the three evaluation scripts on the
GPU. It prints, per step, the exit status, the time and the lines that show what ran, then a
summary; the exit status is non-zero when a step failed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Tuple

ROOT = Path(__file__).resolve().parent.parent
CUDA = ["--common.device", "cuda", "--common.mixed-precision", "--common.channels-last"]
TASKS = (
    ("classification", "config/classification/demo/parcnet_digits.yaml", "digits", "eval_cls.py"),
    ("detection", "config/detection/demo/ssd_parcnet_digits.yaml", "digits_coco", "eval_det.py"),
    ("segmentation", "config/segmentation/demo/deeplabv3_parcnet_digits.yaml", "digits_voc", "eval_seg.py"),
)


def step(name: str, command: List[str], log: Path) -> Tuple[str, int, float]:
    started = time.time()
    with open(log, "w") as out:
        code = subprocess.call(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.time() - started
    lines = log.read_text(errors="replace").splitlines()
    shown = [line for line in lines if any(k in line for k in (
        "Run: world size", "Distributed run", "Starting", "validation:", "top1:", "AP:", "mIoU", "error", "Error"))]
    print(f"\n== {name}: exit {code} in {seconds:.1f} s ({log})")
    for line in shown[-8:]:
        print("   ", line[:220])
    return name, code, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/gpu_check"))
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    import torch

    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s): "
          + ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())))
    if not torch.cuda.is_available():
        print("no GPU: nothing to check")
        return 1
    data, results = args.out / "data", args.out / "results"
    python = sys.executable
    outcomes = []
    for task, config, folder, evaluate in TASKS:
        subprocess.check_call([python, "-m", "data.demo.prepare", "--task", task, "--out", str(data / folder),
                               "--overwrite"], cwd=ROOT, stdout=subprocess.DEVNULL)
        roots = ["--dataset.root-train", str(data / folder), "--dataset.root-val", str(data / folder)]
        if task == "classification":
            roots = ["--dataset.root-train", str(data / folder / "training"),
                     "--dataset.root-val", str(data / folder / "validation")]
        common = ["--common.config-file", config, *roots, "--common.results-loc", str(results),
                  "--common.run-label", task, "--common.overwrite"]
        outcomes.append(step(f"{task}: plain launch, AMP fp16, channels_last",
                             [python, "main_train.py", *common, *CUDA, "--scheduler.max-epochs", str(args.epochs)],
                             args.out / f"train_{task}.log"))
        weights = results / task / "checkpoint_ema_avg.pt"
        mode = [] if task == "classification" else [f"--evaluation.{task}.mode", "validation_set",
                                                     f"--evaluation.{task}.resize-input-images"]
        outcomes.append(step(f"{task}: {evaluate} on the GPU",
                             [python, evaluate, *common[:-1], "--common.device", "cuda",
                              f"--model.{task}.pretrained", str(weights), "--evaluation.overwrite", *mode],
                             args.out / f"eval_{task}.log"))
    config, folder = TASKS[0][1], data / TASKS[0][2]
    outcomes.append(step("classification: torchrun, 1 process, NCCL",
                         [python, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
                          "main_train.py", "--common.config-file", config, "--dataset.root-train",
                          str(folder / "training"), "--dataset.root-val", str(folder / "validation"),
                          "--common.results-loc", str(results), "--common.run-label", "torchrun", "--common.overwrite",
                          *CUDA, "--scheduler.max-epochs", str(args.epochs)], args.out / "train_torchrun.log"))
    print("\nsummary:", json.dumps([{"step": n, "exit": c, "seconds": round(s, 1)} for n, c, s in outcomes], indent=1))
    return int(any(code for _, code, _ in outcomes))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "4")
    sys.exit(main())
