"""The contract every registered model keeps (DESIGN section 8), run over the whole registry."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.models import build_model, capabilities
from genzoo.train import TrainConfig, Trainer
from genzoo.train.checkpoint import load, save_model_folder

from .conftest import IMAGE_ONLY, VARIANTS, tiny

MODEL_NAMES = genzoo.MODELS.names()
KINDS = ["image", "points", "pairs"]


@pytest.fixture(scope="module")
def datasets():
    return {
        "image": genzoo.load_dataset("digits"),
        "points": genzoo.load_dataset("ring8", n=600),
        "pairs": genzoo.load_dataset("digits", input="digits"),  # two domains, for translation
    }


def cases() -> list:
    out = []
    for name in [*MODEL_NAMES, *VARIANTS]:
        model_name = VARIANTS.get(name, (name,))[0]
        cls = genzoo.MODELS.get(model_name)
        kinds = ("pairs",) if cls.translation else cls.data_kinds
        if name in IMAGE_ONLY:
            kinds = ("image",)
        out += [pytest.param(name, kind, id=f"{name}-{kind}") for kind in KINDS if kind in kinds]
    return out


def make(name, ds, seed=0):
    model_name = VARIANTS.get(name, (name,))[0]
    model = build_model(model_name, ds.info(), tiny(name, ds.kind), seed=seed)
    model.transform = ds.transform(model.data_range())
    if ds.input is not None:
        model.input_transform = ds.input.transform(model.data_range())
    return model


def batch_of(model, ds, n=32):
    x = torch.as_tensor(model.transform.forward(ds.x_train[:n]))
    out = {"x": x}
    if ds.y_train is not None:
        out["y"] = torch.as_tensor(ds.y_train[:n])
    if ds.input is not None:
        out["x_in"] = model.to_model_input(ds.input.x_train[n : 2 * n])
    return out


def draw(model, ds, seed: int, n: int = 12):
    """What a model makes: n samples, or a translator's outputs for n test inputs."""
    if "translate" in capabilities(model):
        with torch.no_grad():
            return model.translate(model.to_model_input(ds.input.x_test[:n]))
    return model.sample(n, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name,kind", cases())
def test_builds_and_every_phase_loss_is_finite(name, kind, datasets):
    model = make(name, datasets[kind])
    model_name = VARIANTS.get(name, (name,))[0]
    assert model.name == model_name
    assert isinstance(model.config, genzoo.MODELS.get(model_name).Config)
    batch = batch_of(model, datasets[kind])
    for phase in model.phases():
        out = phase.loss(batch)
        assert out.loss.ndim == 0 and torch.isfinite(out.loss)
        assert all(torch.isfinite(v) for v in out.terms.values())


@pytest.mark.parametrize("name,kind", cases())
def test_each_phase_reaches_its_own_parameters_and_only_them(name, kind, datasets):
    model = make(name, datasets[kind])
    batch = batch_of(model, datasets[kind])
    for phase in model.phases():
        model.zero_grad(set_to_none=True)
        phase.loss(batch).loss.backward()
        own = {id(p) for p in phase.params}
        for pname, p in model.named_parameters():
            if id(p) in own:
                assert p.grad is not None, f"{phase.name}: no gradient reaches {pname}"
            else:
                assert p.grad is None, f"{phase.name}: gradient leaks into {pname}"
        assert any(p.grad.abs().sum() > 0 for p in phase.params)


def steps_for_every_phase(model) -> int:
    """The shortest run in which every phase runs (a growth schedule is a share of the run)."""
    for steps in range(1, 200):
        model.total_steps = steps
        try:
            if all(p.updates(steps) > 0 for p in model.phases()):
                return steps
        finally:
            model.total_steps = None
    raise AssertionError(f"{model.name}: some phase never runs in 200 steps")


@pytest.mark.parametrize("name,kind", cases())
def test_one_trainer_step_changes_every_phase(name, kind, datasets):
    ds = datasets[kind]
    model = make(name, ds)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    steps = steps_for_every_phase(model)
    cfg = TrainConfig(steps=steps, batch_size=32, log_every=0, tensorboard=False)
    Trainer(model, ds, cfg, console=False).fit()
    for phase in model.phases():
        names = {id(p) for p in phase.params}
        changed = [
            not torch.equal(before[n], p) for n, p in model.named_parameters() if id(p) in names
        ]
        assert any(changed), f"phase {phase.name} did not change its parameters"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
@pytest.mark.parametrize("name,kind", cases())
def test_trains_and_samples_on_the_gpu_in_mixed_precision(name, kind, precision, datasets):
    ds = datasets[kind]
    model = make(name, ds)
    steps = steps_for_every_phase(model)
    cfg = TrainConfig(
        steps=steps,
        batch_size=32,
        log_every=0,
        tensorboard=False,
        final_eval=False,
        device="cuda",
        precision=precision,
        ema=True,
        # fp16 also takes the other fast paths: NHWC layout, batches from pinned host memory
        channels_last=precision == "fp16",
        data_on="host" if precision == "fp16" else "device",
    )
    trainer = Trainer(model, ds, cfg, console=False)
    trainer.fit()
    assert all(p.device.type == "cuda" for p in model.parameters())
    assert all(torch.isfinite(p).all() for p in model.parameters())
    ema = trainer.ema.model.eval()
    if "translate" in capabilities(ema):
        with torch.no_grad():
            x = ema.translate(ema.to_model_input(ds.input.x_test[:12]))
    else:
        x = ema.sample(12, generator=torch.Generator("cuda").manual_seed(0))
    assert x.device.type == "cuda" and x.shape == (12, *ds.shape) and torch.isfinite(x).all()


@pytest.mark.parametrize("name,kind", cases())
def test_sample_shape_range_and_seed(name, kind, datasets):
    ds = datasets[kind]
    model = make(name, ds).eval()
    x = draw(model, ds, 3)
    assert x.shape == (12, *ds.shape) and torch.isfinite(x).all()
    lo, hi = {"unit": (0, 1), "symmetric": (-1, 1)}.get(model.data_range(), (None, None))
    if lo is not None:
        assert x.min() >= lo and x.max() <= hi
    assert torch.equal(x, draw(model, ds, 3))
    if "translate" in capabilities(model):  # a translation is a function of its input
        with pytest.raises(genzoo.GenzooError, match="use genzoo translate"):
            model.sample(2)
    else:
        assert not torch.equal(x, draw(model, ds, 4))


@pytest.mark.parametrize("name,kind", cases())
def test_save_and_load_round_trip_exactly(name, kind, datasets, tmp_path):
    ds = datasets[kind]
    model = make(name, ds, seed=5)
    save_model_folder(tmp_path / "m", model)
    loaded = load(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.config == model.config
    for (k, a), (k2, b) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert k == k2 and torch.equal(a, b)
    np_t = model.transform
    assert loaded.transform.target == np_t.target
    if ds.input is not None:
        assert loaded.input_transform.to_dict() == model.input_transform.to_dict()
    assert torch.equal(draw(model.eval(), ds, 0), draw(loaded, ds, 0))


@pytest.mark.parametrize("name,kind", cases())
def test_declared_capabilities_work(name, kind, datasets):
    ds = datasets[kind]
    model = make(name, ds).eval()
    batch = batch_of(model, ds, 10)
    x = batch["x"]
    # a conditional model's capabilities take the examples' labels as well
    y = {"y": batch["y"]} if getattr(model, "conditional", False) else {}
    caps = capabilities(model)
    with torch.no_grad():
        if "encode" in caps:
            z = model.encode(x, **y)
            assert z.shape[0] == 10 and torch.isfinite(z).all()
            if "decode" in caps:
                assert model.decode(z, **y).shape == x.shape
        if "decode" in caps and hasattr(model, "sample_latent"):  # codes from the prior
            z = model.sample_latent(10)
            assert model.decode(z, **y).shape == x.shape
        if "reconstruct" in caps:
            assert model.reconstruct(x, **y).shape == x.shape
        if "log_likelihood" in caps:
            ll = model.log_likelihood(x, **y)
            assert ll.shape == (10,) and torch.isfinite(ll).all()
        if "translate" in caps:
            assert model.translate(batch["x_in"]).shape == x.shape


def test_registry_descriptions_and_unknown_names():
    for entry in genzoo.MODELS:
        assert entry.description, f"model {entry.name} has no description"
    with pytest.raises(genzoo.GenzooError, match="unknown model 'nope'; choose one of: ae"):
        genzoo.MODELS.get("nope")
