"""train/zoo_checkpoint.py: a run's best weights go into checkpoints/NAME as fp16 shards that load back in fp32."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from fer_hub import create_model, image_processor_for, load_checkpoint, save_checkpoint
from fer_hub.models.pretrained import list_pretrained, pretrained_entry

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("train/zoo_checkpoint.py")


@pytest.fixture
def run(tmp_path) -> Path:
    """A finished run folder: an untrained rnn with the records `fer-hub train` writes."""
    folder = tmp_path / "run"
    torch.manual_seed(0)
    model = create_model("rnn")
    save_checkpoint(model, image_processor_for(model), folder)
    shutil.copyfile(ROOT / "train/results/rnn/metrics.json", folder / "metrics.json")
    (folder / "training_log.txt").write_text("epoch 1.00 step 1: train_loss 1.9\n")
    (folder / "command.txt").write_text("fer-hub train --model cnn ...\n")
    return folder


def test_the_zoo_folder_holds_fp16_shards_that_load_in_fp32(script, run, tmp_path, monkeypatch):
    monkeypatch.setattr(script, "MAX_SHARD", "100KB")  # a 0.17M-parameter rnn: 0.34 MB in fp16, several shards
    folder = script.put_in_zoo(run, "rnn.fer2013", "rnn", root=tmp_path)
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) >= 2 and all((folder / shard).stat().st_size <= 110_000 for shard in shards)
    assert not (folder / "model.safetensors").exists()
    assert (folder / "README.md").is_file() and (tmp_path / "train/results/rnn/command.txt").is_file()

    original, _ = load_checkpoint(str(run))
    loaded, _ = load_checkpoint(str(folder))
    assert all(parameter.dtype == torch.float32 for parameter in loaded.parameters())
    pixels = torch.randn(4, 1, 48, 48)
    with torch.no_grad():
        assert torch.allclose(original(pixel_values=pixels).logits, loaded(pixel_values=pixels).logits, atol=2e-2)


def test_an_existing_zoo_folder_is_not_overwritten(script, run, tmp_path):
    (tmp_path / "checkpoints/cnn.fer2013").mkdir(parents=True)
    with pytest.raises(SystemExit, match="exists already"):
        script.put_in_zoo(run, "cnn.fer2013", "cnn", root=tmp_path)


def test_no_committed_file_is_over_45_mb():
    tracked = [path for path in ROOT.rglob("*") if ".git" not in path.parts and ".venv" not in path.parts]
    assert [path for path in tracked if path.is_file() and path.stat().st_size > 45 * 1000 * 1000] == []


WITHOUT_FER_HUB = textwrap.dedent(
    """
    import json, sys
    sys.modules["fer_hub"] = None  # any attempt to import fer_hub fails
    import torch
    from transformers import AutoModelForImageClassification
    torch.manual_seed(0)
    pixel_values = torch.rand(2, 1, 48, 48)
    logits = {}
    for folder in sys.argv[1:]:
        model = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=True).eval()
        assert all(parameter.dtype == torch.float32 for parameter in model.parameters()), folder
        with torch.no_grad():
            logits[folder] = model(pixel_values=pixel_values).logits.tolist()
    print(json.dumps(logits))
    """
)


def test_every_zoo_model_loads_in_fp32_with_and_without_fer_hub():
    """Each trained model's committed folder (fp16 shards) loads by name through fer-hub, and by folder through
    transformers alone in a process where fer_hub cannot be imported: the same fp32 model both ways."""
    folders = [str(pretrained_entry(name).local_folder) for name in list_pretrained()]
    run = subprocess.run(
        [sys.executable, "-c", WITHOUT_FER_HUB, *folders], capture_output=True, text=True, timeout=600, cwd=ROOT.parent
    )
    assert run.returncode == 0, run.stderr[-3000:]
    without = json.loads(run.stdout.strip().splitlines()[-1])
    torch.manual_seed(0)
    pixel_values = torch.rand(2, 1, 48, 48)
    for name, folder in zip(list_pretrained(), folders):
        model, _ = load_checkpoint(name)
        assert all(parameter.dtype == torch.float32 for parameter in model.parameters()), name
        with torch.no_grad():
            expected = model.eval()(pixel_values=pixel_values).logits
        torch.testing.assert_close(torch.tensor(without[folder]), expected, rtol=1e-4, atol=1e-4)
