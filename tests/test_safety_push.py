"""`fer-hub push` publishes no pickled data, whatever the files are called (recognised by content, without
unpickling), and an interrupted push (Ctrl-C once the repo exists) removes the repo or branch it created."""

from __future__ import annotations

import gzip
import pickle
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from huggingface_hub import HfApi
from PIL import Image
from safetensors.torch import save_file

from fer_hub.cli.main import main
from fer_hub.hub.pickle_scan import is_pickled
from fer_hub.hub.push import push_model

STATE = {"step": 47, "weights": [0.5] * 64}


def _write_pickled(kind: str, path: Path) -> None:
    if kind == "torch-zip":
        torch.save({"w": torch.zeros(64)}, path)
    elif kind == "torch-legacy":
        torch.save({"w": torch.zeros(64)}, path, _use_new_zipfile_serialization=False)
    elif kind == "gzip":
        path.write_bytes(gzip.compress(pickle.dumps(STATE)))
    elif kind.startswith("joblib"):
        compress = kind.partition("-")[2]
        joblib.dump(np.arange(5000.0), path, compress=(compress, 3) if compress else 0)
    elif kind.startswith("protocol"):
        path.write_bytes(pickle.dumps(STATE, protocol=int(kind[-1])))
    elif kind == "numpy-objects":
        with path.open("wb") as handle:
            np.save(handle, np.array([STATE], dtype=object))
    elif kind == "npz-objects":
        with path.open("wb") as handle:
            np.savez(handle, state=np.array([STATE], dtype=object))
    else:
        raise ValueError(kind)


PICKLED = [  # (kind, an innocent or upper-case file name)
    ("torch-zip", "extra.ckpt"),
    ("torch-legacy", "weights.PT"),
    ("gzip", "state.pkl.gz"),
    ("joblib", "data.joblib"),
    ("joblib-zlib", "model.dat"),
    ("joblib-bz2", "features.bin2"),
    ("joblib-lzma", "x.lz"),
    ("joblib-xz", "y.xz"),
    ("protocol0", "notes.txt"),
    ("protocol2", "log.csv"),
    ("protocol4", "notes.dat"),
    ("protocol5", "config.bak"),
    ("numpy-objects", "table.npy"),
    ("npz-objects", "arrays.npz"),
]


@pytest.mark.parametrize("kind, name", PICKLED, ids=[kind for kind, _ in PICKLED])
def test_pickled_data_is_recognised_by_content(kind, name, tmp_path):
    path = tmp_path / name
    _write_pickled(kind, path)
    assert is_pickled(path)


def _not_pickled(kind: str, path: Path) -> None:
    if kind == "safetensors":
        save_file({f"layer{i}.weight": torch.zeros(3, 3) for i in range(40)}, path)
    elif kind == "png":
        Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(path)
    elif kind == "numpy-floats":
        with path.open("wb") as handle:
            np.save(handle, np.zeros(10))
    elif kind == "text":
        path.write_text("epoch 1.00 step 10: train_loss 1.2345 val_loss 1.3\n")
    elif kind == "code":
        path.write_text("import torch\n\n\ndef f():\n    return 1\n")
    elif kind == "empty":
        path.write_bytes(b"")


@pytest.mark.parametrize("kind", ["safetensors", "png", "numpy-floats", "text", "code", "empty"])
def test_other_files_are_not_taken_for_pickles(kind, tmp_path):
    path = tmp_path / f"file.{kind}"
    _not_pickled(kind, path)
    assert not is_pickled(path)


def test_every_file_of_the_default_model_is_publishable():
    folder = Path(__file__).parents[1] / "fer_hub" / "default_model"
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert "model_quantized.onnx" in {path.name for path in files}
    assert [path.name for path in files if is_pickled(path)] == []


@pytest.mark.hub
def test_push_leaves_out_pickled_files_whatever_their_names(trained_model_dir, hub_endpoint, repo_id, tmp_path, caplog):
    folder = Path(shutil.copytree(trained_model_dir, tmp_path / "model", ignore=shutil.ignore_patterns("checkpoints")))
    for kind, name in PICKLED:
        _write_pickled(kind, folder / name)
    (folder / "extra" / "deeper").mkdir(parents=True)
    _write_pickled("torch-zip", folder / "extra" / "deeper" / "last.Ckpt")

    push_model(folder, repo_id)

    pushed = set(hub_endpoint.repo(repo_id).files("main"))
    assert {"model.safetensors", "config.json", "preprocessor_config.json", "metrics.json"} <= pushed
    assert pushed.isdisjoint({name for _, name in PICKLED} | {"extra/deeper/last.Ckpt"})
    assert "extra.ckpt" in caplog.text and "extra/deeper/last.Ckpt" in caplog.text


def _interrupt_commit(monkeypatch) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(HfApi, "create_commit", interrupted)


@pytest.mark.hub
def test_interrupted_push_removes_the_repo_it_created(trained_model_dir, hub_endpoint, repo_id, monkeypatch, capsys):
    _interrupt_commit(monkeypatch)
    assert main(["push", "--model", str(trained_model_dir), "--repo-id", repo_id]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert hub_endpoint.repo(repo_id) is None


@pytest.mark.hub
def test_interrupted_push_to_a_new_branch_removes_the_branch(trained_model_dir, hub_endpoint, repo_id, monkeypatch):
    push_model(trained_model_dir, repo_id)
    before = hub_endpoint.repo(repo_id)
    head, files = before.branches["main"], dict(before.files("main"))
    _interrupt_commit(monkeypatch)

    with pytest.raises(KeyboardInterrupt):
        push_model(trained_model_dir, repo_id, revision="experiment")

    after = hub_endpoint.repo(repo_id)
    assert after.branches == {"main": head} and after.files("main") == files
