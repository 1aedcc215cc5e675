"""Where the training data lives, and how a batch's rows reach the device.

The training split lives on the device, except on CUDA when asked (train.data_on=host) or when
it would take more than a quarter of the device's memory (auto): then it stays in pinned host
memory and each batch's rows are gathered into one of two pinned buffers and copied over without
blocking, a buffer being refilled only once its last copy has finished.
"""

from __future__ import annotations

import numpy as np
import torch


def keep_on_host(data_on: str, device: torch.device, arrays: list[np.ndarray]) -> bool:
    """Whether training data of these `arrays` stays in host memory (train.data_on "auto",
    "host" or "device"): only ever on CUDA, where asked, or (auto) where it would take more
    than a quarter of the device's memory as float32."""
    if device.type != "cuda" or data_on == "device":
        return False
    if data_on == "host":
        return True
    size = sum(4 * int(np.prod(np.shape(a))) for a in arrays)  # float32 in the model
    return size > torch.cuda.get_device_properties(device).total_memory / 4


class RowTaker:
    """Rows of a tensor on `device`, in the layout the model trains in (NHWC for images with
    `channels_last`), from device tensors or staged from pinned host memory."""

    def __init__(self, device: torch.device, channels_last: bool):
        self.device, self.channels_last = device, channels_last
        self._staging: dict[str, list] = {}  # per key: two (pinned buffer, copy-done event)

    def take(self, key: str, t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Rows `idx` of `t` (a field named `key`) on the device."""
        if t.device.type == "cpu" and self.device.type == "cuda":
            bufs = self._staging.setdefault(key, [])
            if len(bufs) < 2 or bufs[0][0].shape[0] != len(idx):
                shape = (len(idx), *t.shape[1:])
                bufs[:] = [
                    (torch.empty(shape, dtype=t.dtype).pin_memory(), torch.cuda.Event())
                    for _ in range(2)
                ]
            buf, done = bufs[0]
            done.synchronize()  # its previous copy is over: safe to overwrite
            torch.index_select(t, 0, idx.cpu(), out=buf)
            rows = buf.to(self.device, non_blocking=True)
            done.record()
            bufs.reverse()
        else:
            rows = t[idx.to(t.device)]
        if self.channels_last and rows.dim() == 4:
            rows = rows.contiguous(memory_format=torch.channels_last)
        return rows
