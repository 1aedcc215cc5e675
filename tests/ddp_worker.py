"""Run by `torchrun` in test_distributed.py.

torchrun --standalone --nproc_per_node 2 tests/ddp_worker.py MODEL STEPS BATCH OUT
    train MODEL on mnist5k for STEPS steps at BATCH per process through the Python API,
    and save this rank's parameters to OUT/rank{r}.pt; run by plain `python`, it is the
    single process the distributed runs are compared with. With DIE_RANK=r, process r
    exits at step 3.
torchrun ... tests/ddp_worker.py cli GENZOO-ARGS...
    `genzoo GENZOO-ARGS...`; with KILL_RANK=r and KILL_STEP=k, process r is killed after
    step k (SIGKILL), or with KILL_SIG=SIGTERM the launcher is sent SIGTERM, as a job
    scheduler would.
"""

import os
import signal
import sys

import torch

import genzoo

if sys.argv[1] == "cli":
    from genzoo.cli.main import main
    from genzoo.train.trainer import Trainer as _Trainer

    step = _Trainer.train_step

    def killing_step(self) -> None:
        step(self)
        if (
            self.step == int(os.environ["KILL_STEP"])
            and os.environ["KILL_RANK"] == os.environ["RANK"]
        ):
            if os.environ.get("KILL_SIG") == "SIGTERM":
                os.kill(os.getppid(), signal.SIGTERM)
            else:
                os.kill(os.getpid(), signal.SIGKILL)

    if "KILL_STEP" in os.environ:
        _Trainer.train_step = killing_step
    if "NAN_RANK" in os.environ and os.environ["NAN_RANK"] == os.environ["RANK"]:
        from genzoo.models.autoencoders.ae import Autoencoder

        loss = Autoencoder.loss

        def poisoned(self, batch):  # this process alone sees an infinite loss at step 5
            out = loss(self, batch)
            if self.training and self.step == 5:
                out.terms["mse"] = out.terms["mse"] * float("inf")
                out.loss = out.terms["mse"]
            return out

        Autoencoder.loss = poisoned
    sys.exit(main(sys.argv[2:]))

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
