"""--device for predict, evaluate and the demo: cpu (ONNX Runtime where a model ships an ONNX copy), cuda[:N], mps,
auto; a device the machine lacks is one error line naming the flag."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fer_hub.cli.main import main
from fer_hub.errors import ParameterError
from fer_hub.inference import devices
from fer_hub.inference.devices import resolve_device
from fer_hub.inference.recognizer import get_recognizer
from fer_hub.inference.torch_logits import TorchLogits

FIXTURE = Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz"
HAS_CUDA = torch.cuda.is_available()


def test_device_names():
    assert resolve_device(None) == resolve_device("cpu") == resolve_device(" CPU ") == "cpu"
    for bad in ("gpu", "cuda:x", "cuda0", "tpu"):
        with pytest.raises(ParameterError, match="is not a device"):
            resolve_device(bad)


def test_auto_is_the_cpu_without_an_nvidia_driver(monkeypatch, tmp_path):
    monkeypatch.setattr(devices, "NVIDIA_DRIVER", tmp_path / "no-driver")
    assert resolve_device("auto") == "cpu"


def test_auto_is_cuda_exactly_when_pytorch_sees_a_gpu():
    assert resolve_device("auto") == ("cuda:0" if HAS_CUDA and devices.NVIDIA_DRIVER.exists() else "cpu")


def test_cuda_runs_the_model_on_the_gpu_or_is_one_error_line(astronaut_png, capsys):
    code = main(["predict", "--device", "cuda", "--model", "cnn.fer2013", str(astronaut_png)])
    if HAS_CUDA:
        assert code == 0
        logits = get_recognizer("cnn.fer2013", device="cuda").classifier.logits
        assert isinstance(logits, TorchLogits) and next(logits.model.parameters()).is_cuda
        assert "happy" in capsys.readouterr().out
    else:
        assert code == 2
        assert capsys.readouterr().err.strip() == (
            "fer-hub predict: error: --device: cuda: no CUDA GPU that PyTorch can use on this machine"
        )


def test_evaluate_and_demo_take_the_device(capsys):
    code = main(["evaluate", "--model", "cnn.fer2013", "--data", str(FIXTURE), "--device", "cuda:7"])
    assert code == (0 if HAS_CUDA and torch.cuda.device_count() > 7 else 2)
    if code == 2:
        assert "fer-hub evaluate: error: --device: cuda:7:" in capsys.readouterr().err
    assert main(["evaluate", "--model", "cnn.fer2013", "--data", str(FIXTURE), "--device", "cpu"]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert main(["demo", "--device", "quantum"]) == 2
    assert "--device: 'quantum' is not a device" in capsys.readouterr().err
