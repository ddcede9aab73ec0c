"""Commands say what they did and nothing else: no "Loading weights" bar, no library warnings."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fer_hub import load_fer2013
from fer_hub.inference.onnx_runtime import load_onnx
from fer_hub.models.factory import load_checkpoint
from fer_hub.models.pretrained import DEFAULT_MODEL_DIR

pytestmark = pytest.mark.slow  # a fresh interpreter exports and quantizes the model

SHARED_CSV = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.csv.gz"
FIXTURE = Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz"


def test_export_onnx_int8_prints_what_it_wrote_and_nothing_else(tmp_path):
    output = tmp_path / "default-int8.onnx"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "fer_hub",
            "export-onnx",
            "--model",
            str(DEFAULT_MODEL_DIR),
            "--output",
            str(output),
            "--int8",
            "--data",
            str(SHARED_CSV),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    printed = rf"wrote {re.escape(str(output))} \(static int8, \d+\.\d\d MB; PublicTest accuracy fp32 0\.\d{{4}}, int8 0\.\d{{4}}\)\n"
    assert re.fullmatch(printed, run.stdout), run.stdout
    assert run.stderr == ""  # no "Loading weights" bar, no onnxruntime pre-processing warning

    model, processor = load_checkpoint(DEFAULT_MODEL_DIR)
    images = list(load_fer2013(FIXTURE)["validation"]["image"])
    pixels = processor(images, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        expected = model(pixel_values=pixels).logits.numpy().argmax(1)
    int8, _ = load_onnx(output, threads=1)
    assert (
        int8(pixels.numpy()).argmax(1) == expected
    ).mean() >= 0.8  # the quantized file is still the model (35 faces)
