"""Run by test_kill_anywhere.py in a process of its own: train MODEL (a tiny config on the
digits) for 12 steps with a checkpoint every 4 into OUT, resuming from OUT's newest checkpoint
when there is one, and SIGKILL this process at POINT:

    python tests/kill_worker.py MODEL OUT POINT
    POINT: none | mid-step:K | mid-checkpoint:K | between:K

mid-step kills after the first phase's update of step K (a GAN's discriminator has stepped,
its generator not); mid-checkpoint kills halfway through writing step K's trainer state;
between kills after step K, away from any checkpoint.
"""

import os
import signal
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import genzoo  # noqa: E402
from genzoo.train import checkpoint as ckpt  # noqa: E402
from genzoo.train.trainer import Trainer  # noqa: E402
from tests.conftest import tiny  # noqa: E402

name, out, point = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
where, _, at = point.partition(":")
at = int(at) if at else -1
torch.set_num_threads(1)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


if where == "mid-step":
    run_phase = Trainer._run_phase

    def killing_phase(self, phase, batch):
        run_phase(self, phase, batch)
        if self.step == at:
            die()

    Trainer._run_phase = killing_phase
elif where == "mid-checkpoint":
    save_state = ckpt.save_state

    def killing_save(path, state):
        if state["step"] == at:
            path.write_bytes(b"half a trainer state")
            die()
        save_state(path, state)

    ckpt.save_state = killing_save
elif where == "between":
    step = Trainer.train_step

    def killing_step(self):
        step(self)
        if self.step == at:
            die()

    Trainer.train_step = killing_step

ds = genzoo.load_dataset("digits")
model = genzoo.build_model(name, ds.info(), tiny(name, ds.kind), seed=0)
cfg = genzoo.TrainConfig(
    steps=12, batch_size=16, checkpoint_every=4, log_every=2, eval_every=0, sample_every=0,
    tensorboard=False, ema=True,
)  # fmt: skip
summary = Trainer(model, ds, cfg, out=out, console=False).fit(resume=True)
print("resumed from", summary["resumed_from"])
