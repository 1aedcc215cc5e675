"""The process around training: devices, precision and random-generator state (signals and
deadlines are in `genzoo.progress`)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..errors import ConfigError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("train.device", name, "no CUDA device is available here; use cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ConfigError("train.device", name, "auto, cpu, cuda or cuda:N")
    return device


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for plain fp32."""
    if device.type != "cuda":
        if name in ("bf16", "fp16"):
            raise ConfigError(
                "train.precision", name, "mixed precision runs on CUDA only; use fp32 or auto"
            )
        return None
    if name == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def rng_state(device: torch.device) -> dict[str, Any]:
    """Every global generator's state, as tensors and plain values (safe to load)."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "gauss": float(np_state[4]),
        },
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_as_tuple(state["python"]))
    npr = state["numpy"]
    keys = npr["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, npr["pos"], npr["has_gauss"], npr["gauss"]))
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def _as_tuple(value: Any) -> Any:
    """random.setstate needs tuples; torch.load may give lists back."""
    if isinstance(value, list):
        return tuple(_as_tuple(v) for v in value)
    return value


def configure_compile() -> None:
    """torch.compile settings for training (train.compile), set before the losses compile."""
    from torch._dynamo import config as dynamo
    from torch._inductor import config as inductor

    inductor.fallback_random = True  # the same noise as eager, from the same stream
    dynamo.allow_unspec_int_on_nn_module = True  # model.step: one graph, not one a step
    # Inductor's own switch of convolutions to NHWC mispredicts the strides of their backward
    # on CUDA (pytorch/pytorch#171622, #197514) and fails a transposed-convolution GAN: the
    # layout is train.channels_last's to choose.
    inductor.layout_optimization = False
    # graphs and shape guesses of an earlier run in this process (another model's sizes)
    # would make this one's shapes symbolic, which fallback_random cannot draw
    torch._dynamo.reset()


def versions() -> dict[str, str]:
    """The versions a run was made with (summary.json)."""
    import platform

    return {
        "genzoo": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
