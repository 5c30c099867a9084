"""Run by torchrun in the tests: train through the engine while recording, on every rank, the
samples and resolutions it was given and its final parameters."""
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import trainer as trainer_module  # noqa: E402
from engine import training  # noqa: E402
from utils.distributed import unwrap  # noqa: E402
from options import get_training_arguments  # noqa: E402

seen, sizes = [], []


class Recording:
    def __init__(self, loader):
        self.loader = loader
        self.dataset = loader.dataset

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            seen.extend(batch["sample_id"].tolist())
            sizes.append(tuple(batch["image"].shape[-2:]))
            yield batch


original_loaders = training.create_train_val_loaders


def recording_loaders(opts):
    train_loader, val_loader, sampler = original_loaders(opts)
    return Recording(train_loader), val_loader, sampler


original_run = trainer_module.Trainer.run


def run_and_dump(self):
    original_run(self)
    out = Path(os.environ["DDP_CHECK_OUT"])
    out.mkdir(parents=True, exist_ok=True)
    params = {k: v.detach().clone() for k, v in unwrap(self.model).named_parameters()}
    torch.save({"seen": seen, "sizes": sizes, "params": params}, out / f"rank{self.runtime.rank}.pt")


training.create_train_val_loaders = recording_loaders
trainer_module.Trainer.run = run_and_dump
training.train(get_training_arguments(sys.argv[1:]))
