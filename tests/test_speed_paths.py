"""The paths that make training faster: channels-last layout, torch.compile, and the training
split in pinned host memory. On CPU they must train to the same weights as the plain path; the
GPU tests run where CUDA is and skip cleanly elsewhere."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.train import TrainConfig, Trainer
from genzoo.train.checkpoint import load

from .conftest import run_cli
from .test_contract import make

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def digits():
    return genzoo.load_dataset("digits")


def train(name, ds, tmp_path=None, **settings):
    model = make(name, ds)
    quiet = dict(steps=6, batch_size=16, log_every=0, eval_every=0, tensorboard=False)
    cfg = TrainConfig(**{**quiet, "device": "cpu", "final_eval": False, **settings})
    Trainer(model, ds, cfg, out=tmp_path, console=False).fit()
    return model


def assert_close_weights(a, b, **tol):
    for (k, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        p, q = p.detach(), q.detach().to(p.device)
        torch.testing.assert_close(p, q, msg=f"{k}: max |diff| {(p - q).abs().max():.3g}", **tol)


@pytest.fixture
def true_fp32():
    """float32 without TF32 on the GPU: the fast paths are compared in the same arithmetic."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.mark.parametrize("name", ["conv-ae", "ddpm"])
def test_channels_last_trains_to_the_same_weights_and_saves_plain(name, digits, tmp_path):
    plain = train(name, digits)
    nhwc = train(name, digits, tmp_path / "run", channels_last=True)
    convs = [p for p in nhwc.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert_close_weights(plain, nhwc, rtol=1e-4, atol=1e-5)
    saved = load(tmp_path / "run" / "model")  # safetensors wants contiguous tensors
    assert_close_weights(nhwc, saved, rtol=0, atol=0)


def test_compiled_losses_train_to_the_eager_weights(digits):
    eager = train("vae", digits)
    compiled = train("vae", digits, compile=True)
    assert_close_weights(eager, compiled, rtol=1e-4, atol=1e-5)
    untrained = make("vae", digits)
    pairs = zip(untrained.parameters(), eager.parameters(), strict=True)
    assert all(not torch.equal(p, q) for p, q in pairs)  # it trained: not two initializations


def test_a_second_compiled_run_in_the_same_process_starts_afresh(digits):
    # the first run's shapes would otherwise turn the second's symbolic, and compiled code
    # that draws eager-identical noise cannot draw a symbolic number of latents
    train("dcgan", digits, compile=True, steps=2)
    model = train("dcgan", digits, compile=True, steps=2, batch_size=32)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_the_compile_flag_reaches_the_config(tmp_path):
    done = run_cli("train", "ae", "--compile", "--print-config", check=True)
    assert "compile: true" in done.stdout
    done = run_cli("train", "ae", "--print-config", check=True)
    assert "compile: false" in done.stdout


@CUDA
@pytest.mark.parametrize("name", ["conv-ae", "ddpm"])
def test_on_the_gpu_compiled_channels_last_matches_eager(name, digits, true_fp32):
    gpu = dict(device="cuda", steps=5, batch_size=32, precision="fp32")
    eager = train(name, digits, **gpu)
    fast = train(name, digits, compile=True, channels_last=True, **gpu)
    assert_close_weights(eager, fast, rtol=1e-3, atol=1e-4)  # other kernels, same maths


@CUDA
def test_on_the_gpu_a_gan_trains_compiled_in_bf16_and_channels_last(digits):
    # a transposed-convolution generator: the case inductor's own NHWC switch used to fail
    before = make("dcgan", digits)
    fast = train("dcgan", digits, device="cuda", precision="bf16", compile=True, channels_last=True)
    assert all(torch.isfinite(p).all() for p in fast.parameters())
    pairs = zip(fast.parameters(), before.parameters(), strict=True)
    assert all(not torch.equal(p.cpu(), q) for p, q in pairs)


@CUDA
def test_on_the_gpu_the_default_dcgan_trains_compiled_in_fp32():
    # 28x28 digits through transposed convolutions: inductor's own NHWC switch failed here
    ds = genzoo.load_dataset("mnist5k")
    model = genzoo.build_model("dcgan", ds.info(), {}, seed=0)
    cfg = TrainConfig(
        steps=3, batch_size=128, device="cuda", precision="fp32", compile=True, log_every=0,
        tensorboard=False,
    )  # fmt: skip
    Trainer(model, ds, cfg, console=False).fit()
    assert all(torch.isfinite(p).all() for p in model.parameters())


@CUDA
def test_on_the_gpu_pinned_host_data_trains_exactly_as_device_data(digits):
    gpu = dict(device="cuda", steps=20, batch_size=32, precision="fp32")
    on_device = train("dcgan", digits, data_on="device", **gpu)
    model = make("dcgan", digits)
    cfg = TrainConfig(**gpu, data_on="host", log_every=0, eval_every=0, tensorboard=False)
    trainer = Trainer(model, digits, cfg, console=False)
    trainer.fit()
    assert trainer.host_data and trainer.train_data["x"].is_pinned()
    assert_close_weights(on_device, model, rtol=0, atol=0)  # the same rows, copied over
