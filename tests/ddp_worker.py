"""Run by `torchrun` in test_distributed.py: train MODEL on mnist5k for STEPS steps at
BATCH per process through the Python API, and save this rank's parameters to OUT/rank{r}.pt.
Run by plain `python`, it is the single process the distributed runs are compared with.

    torchrun --standalone --nproc_per_node 2 tests/ddp_worker.py MODEL STEPS BATCH OUT
"""

import os
import sys

import torch

import genzoo

name, steps, batch, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
torch.set_num_threads(1)
options = {"ae": {"hidden": [32], "latent_dim": 4}, "dcgan": {}}[name]
data = genzoo.load_dataset("mnist5k")
model = genzoo.build_model(name, data.info(), options, seed=0)
quiet = {"log_every": 5, "eval_every": 0, "tensorboard": False, "final_eval": False}
cfg = genzoo.TrainConfig(**{**quiet, "steps": steps, "batch_size": batch, "device": "cpu"})


class Trainer(genzoo.Trainer):
    def train_step(self) -> None:
        if self.step == 3 and os.environ.get("DIE_RANK", "none") == os.environ.get("RANK"):
            os._exit(3)  # a process lost mid-run (DIE_RANK set by the test)
        super().train_step()


Trainer(model, data, cfg, console=False).fit()
params = {k: v.detach().clone() for k, v in model.named_parameters()}
torch.save(params, os.path.join(out, f"rank{os.environ.get('RANK', '0')}.pt"))
