"""train/zoo_checkpoint.py: a run's best weights go into checkpoints/NAME as fp16 shards that load back in fp32."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from fer_hub import create_model, image_processor_for, load_checkpoint, save_checkpoint

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
