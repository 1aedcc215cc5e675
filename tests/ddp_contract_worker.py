"""Run by `torchrun --nproc_per_node 2` in test_distributed.py: every registered model and
variant of the contract suite trains a few steps in two processes, and rank 0 writes, per
case, each process saves its parameters and EMA after training, and how far they moved, to
OUT/rank{r}.pt.

    torchrun --standalone --nproc_per_node 2 tests/ddp_contract_worker.py OUT
"""

import sys
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import genzoo  # noqa: E402
from tests.test_contract import cases, make  # noqa: E402

torch.set_num_threads(1)
dist.init_process_group("gloo")  # the trainers join this group instead of making their own
datasets = {
    "image": genzoo.load_dataset("digits"),
    "points": genzoo.load_dataset("ring8", n=600),
    "pairs": genzoo.load_dataset("digits", input="digits"),
}
cfg = genzoo.TrainConfig(
    steps=4, batch_size=8, log_every=2, eval_every=0, tensorboard=False, final_eval=False,
    device="cpu", ema=True,
)  # fmt: skip
results = {}
for case in cases():
    name, kind = case.values
    model = make(name, datasets[kind])
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    trainer = genzoo.Trainer(model, datasets[kind], cfg, console=False)
    trainer.fit()
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    ema = torch.cat([p.detach().flatten() for p in trainer.ema.model.parameters()])
    results[case.id] = {"weights": torch.cat([after, ema]), "moved": (after - before).abs().max()}
torch.save(results, Path(sys.argv[1]) / f"rank{dist.get_rank()}.pt")
dist.barrier()
dist.destroy_process_group()
