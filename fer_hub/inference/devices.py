"""Where a model runs: `--device cpu` (the default: models that ship an ONNX file run on ONNX Runtime, without
torch), `cuda`, `cuda:N` or `mps` (PyTorch on that accelerator), or `auto` (a CUDA GPU when there is one, else the
CPU). Checking for a GPU imports torch only when an NVIDIA driver is installed."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ParameterError

DEVICE_HELP = "cpu (default), cuda, cuda:N, mps, or auto (a CUDA GPU when there is one)"
NVIDIA_DRIVER = Path("/proc/driver/nvidia/version")


def resolve_device(device: str | None = None) -> str:
    """`device` checked against this machine: "cpu", "cuda:N" or "mps"; a ParameterError naming `device` when it is
    not a device name or the machine has no such device."""
    device = (device or "cpu").strip().lower()
    if device == "cpu":
        return "cpu"
    if device == "auto":
        return "cuda:0" if NVIDIA_DRIVER.exists() and _cuda_count() > 0 else "cpu"
    if device == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise ParameterError("device", "mps: this machine has no Apple GPU that PyTorch can use")
        return "mps"
    match = re.fullmatch(r"cuda(?::(\d+))?", device)
    if not match:
        raise ParameterError("device", f"{device!r} is not a device: use {DEVICE_HELP}")
    index, count = int(match.group(1) or 0), _cuda_count()
    if count == 0:
        raise ParameterError("device", f"{device}: no CUDA GPU that PyTorch can use on this machine")
    if index >= count:
        raise ParameterError("device", f"{device}: this machine has {count} CUDA GPU(s), numbered from 0")
    return f"cuda:{index}"


def _cuda_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0
