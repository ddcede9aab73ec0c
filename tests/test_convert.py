"""Legacy checkpoints convert to the transformers-shaped models with the same logits, and every model folder the
repository ships carries code byte-equal to the package's and loads where fer_hub is not installed.

tests/fixtures/legacy_checkpoints/ holds small cnn, rnn, sepnet and vgg16 folders saved by fer-hub before the
refactor (commit 5a69d59: head and body fused in one module), with random weights and batch-norm statistics, and
`expected.safetensors`: an input and the logits that code computed for it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForImageClassification

from fer_hub.errors import FerHubError
from fer_hub.models.convert import LEGACY_RENAMES, convert_legacy_checkpoint
from fer_hub.models.pretrained import DEFAULT_MODEL_DIR
from fer_hub.models.registry import MODELS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "fer_hub"
LEGACY = Path(__file__).parent / "fixtures" / "legacy_checkpoints"
SHIPPED_FOLDERS = [DEFAULT_MODEL_DIR, *sorted(path.parent for path in (ROOT / "checkpoints").glob("*/config.json"))]

FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    sys.modules["fer_hub"] = None  # any attempt to import fer_hub fails
    import torch
    from transformers import AutoImageProcessor, AutoModel, AutoModelForImageClassification
    folder = sys.argv[1]
    model = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=True).eval()
    backbone = AutoModel.from_pretrained(folder, trust_remote_code=True)
    processor = AutoImageProcessor.from_pretrained(folder, trust_remote_code=True)
    with torch.no_grad():
        logits = model(pixel_values=torch.linspace(-2, 2, 48 * 48).reshape(1, 1, 48, 48)).logits
    print(json.dumps({"classes": [type(model).__name__, type(backbone).__name__, type(processor).__name__],
                      "logits": logits.tolist()}))
    """
)


def _folder_code(folder: Path) -> dict[str, Path]:
    """The .py files of a model folder -> the package file each must equal (found by file name)."""
    package_files = {path.name: path for path in PACKAGE_DIR.rglob("*.py") if "default_model" not in path.parts}
    return {path.name: package_files.get(path.name) for path in folder.glob("*.py")}


@pytest.mark.parametrize("name", ["cnn", "rnn", "sepnet", "vgg16"])
def test_legacy_checkpoint_converts_to_the_same_logits(name, tmp_path):
    folder = Path(shutil.copytree(LEGACY / name, tmp_path / name))
    expected = load_file(folder / "expected.safetensors")
    legacy_tensors = sorted(tensor.numpy().tobytes() for tensor in load_file(folder / "model.safetensors").values())

    renamed = convert_legacy_checkpoint(folder)

    converted = load_file(folder / "model.safetensors")
    assert renamed == len(converted) - 2  # all but the classifier's weight and bias
    assert sorted(tensor.numpy().tobytes() for tensor in converted.values()) == legacy_tensors  # renamed, not changed
    model = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=False).eval()  # installed class
    assert type(model) is MODELS[name].model_class
    assert all(torch.equal(model.state_dict()[key], tensor) for key, tensor in converted.items())  # loaded exactly
    with torch.no_grad():
        logits = model(pixel_values=expected["pixel_values"]).logits
    # float32 kernels may sum in another order from run to run (1.3e-5 seen in CI); a wrong weight moves logits by far more
    torch.testing.assert_close(logits, expected["logits"], rtol=1e-4, atol=1e-4)
    code = _folder_code(folder)
    # configuration_*.py, modeling_*.py, image_processing_fer.py, face_pixels.py, pipeline_fer.py, face_detection.py
    assert len(code) == 6
    for file_name, source in code.items():
        assert source is not None and source.read_bytes() == (folder / file_name).read_bytes(), file_name
    auto_map = json.loads((folder / "config.json").read_text())["auto_map"]
    assert sorted(auto_map) == ["AutoConfig", "AutoModel", "AutoModelForImageClassification"]
    assert not list(folder.glob(".converting-*"))

    weights = (folder / "model.safetensors").read_bytes()
    assert convert_legacy_checkpoint(folder) == 0  # already converted: rewritten unchanged
    assert (folder / "model.safetensors").read_bytes() == weights


def test_every_custom_architecture_has_legacy_renames():
    custom_types = {entry.config_class.model_type for entry in MODELS.values() if entry.is_custom}
    assert set(LEGACY_RENAMES) == custom_types - {"fer_vit"}  # the stem vit was born in the transformers shape


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda folder: (folder / "model.safetensors").unlink(), "no model.safetensors"),
        (lambda folder: (folder / "preprocessor_config.json").unlink(), "no preprocessor_config.json"),
        (
            lambda folder: _edit_config(folder, conv_channels=[4, 8, 16]),
            "weights do not fit FerCnnForImageClassification; missing cnn.blocks.2",
        ),
        (
            lambda folder: _edit_config(folder, hidden_size=32),
            re.escape("unexpected none; wrong shape cnn.dense.weight (16, 800) (needs (32, 800))"),
        ),
        (lambda folder: _edit_config(folder, model_type="vit"), "model_type 'vit' has no legacy layout"),
        (lambda folder: (folder / "config.json").write_text("[1, 2]"), "config.json: expected a JSON object"),
    ],
)
def test_a_folder_that_cannot_convert_is_named_and_left_as_it_was(breakage, message, tmp_path):
    folder = Path(shutil.copytree(LEGACY / "cnn", tmp_path / "cnn"))
    breakage(folder)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}

    with pytest.raises(FerHubError, match=message):
        convert_legacy_checkpoint(folder)

    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before


def _edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))


@pytest.mark.slow
@pytest.mark.parametrize("folder", SHIPPED_FOLDERS, ids=lambda folder: folder.relative_to(ROOT).as_posix())
def test_shipped_folder_code_equals_the_package_and_loads_without_fer_hub(folder, tmp_path):
    code = _folder_code(folder)
    config = json.loads((folder / "config.json").read_text())
    processor_config = json.loads((folder / "preprocessor_config.json").read_text())
    named = {
        reference.split(".")[0] + ".py"
        for reference in [*config.get("auto_map", {}).values(), *processor_config["auto_map"].values()]  # vit: native
    }
    assert named <= set(code), f"auto_map names code the folder lacks: {sorted(named - set(code))}"
    stale = [
        name for name, source in code.items() if source is None or source.read_bytes() != (folder / name).read_bytes()
    ]
    assert not stale, (
        f"{folder}: {stale} differ from the package's files; run fer_hub.models.convert.convert_legacy_checkpoint"
    )

    environment = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(folder)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=environment,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    model = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=False).eval()
    entry = next(entry for entry in MODELS.values() if entry.model_class is type(model))
    assert result["classes"] == [entry.model_class.__name__, entry.backbone_class.__name__, "FerImageProcessor"]
    with torch.no_grad():
        expected = model(pixel_values=torch.linspace(-2, 2, 48 * 48).reshape(1, 1, 48, 48)).logits
    torch.testing.assert_close(torch.tensor(result["logits"]), expected, rtol=1e-5, atol=1e-5)
