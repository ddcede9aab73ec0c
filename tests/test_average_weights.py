"""train/average_weights.py: the element-wise mean of same-architecture models, and batch-norm statistics measured
again on the faces given."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fer_hub import create_model, image_processor_for, load_checkpoint, save_checkpoint
from fer_hub.evaluation.evaluate import evaluate

ROOT = Path(__file__).resolve().parents[1]
RUN = {"capture_output": True, "text": True, "cwd": ROOT, "timeout": 300}


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("train/average_weights.py")


def small_sepnets(count: int) -> list:
    models = []
    for seed in range(count):
        torch.manual_seed(seed)
        model = create_model("sepnet")
        with torch.no_grad():  # distinct batch-norm buffers as well as weights
            for layer in model.modules():
                if isinstance(layer, torch.nn.BatchNorm2d):
                    layer.running_mean.normal_()
                    layer.running_var.uniform_(0.5, 2.0)
        models.append(model)
    return models


def test_every_floating_point_tensor_is_the_members_mean(script):
    models = small_sepnets(3)
    averaged = script.average_weights(models)
    states = [model.state_dict() for model in models]
    assert averaged.keys() == states[0].keys()
    for key, tensor in averaged.items():
        if tensor.is_floating_point():
            expected = (states[0][key] + states[1][key] + states[2][key]) / 3
            assert torch.allclose(tensor, expected, atol=1e-6), key
        else:
            assert torch.equal(tensor, states[0][key]), key
    assert not torch.equal(averaged["classifier.weight"], states[0]["classifier.weight"])


def test_members_of_different_configs_are_refused(script):
    with pytest.raises(SystemExit, match="not the same architecture and config"):
        script.average_weights([create_model("sepnet"), create_model("sepnet", dropout=0.3)])


def test_batch_norm_statistics_are_those_of_the_faces_given(script):
    model = small_sepnets(1)[0]
    first = next(layer for layer in model.modules() if isinstance(layer, torch.nn.BatchNorm2d))
    inputs = []
    first.register_forward_hook(lambda layer, args, output: inputs.append(args[0].detach()))
    torch.manual_seed(1)
    batches = [torch.randn(16, 1, 48, 48) * 2 + 1, torch.randn(8, 1, 48, 48)]
    script.measure_batch_norm(model, batches)
    seen = torch.cat(inputs)  # the first layer's inputs over both batches
    per_batch_means = torch.stack([batch.mean((0, 2, 3)) for batch in inputs])
    assert torch.allclose(first.running_mean, per_batch_means.mean(0), atol=1e-5)  # a cumulative average of batches
    assert not torch.allclose(first.running_mean, torch.zeros_like(first.running_mean))
    assert seen.shape[0] == 24 and first.momentum == 0.1 and not model.training
    before = first.running_mean.clone()
    with torch.no_grad():
        model(pixel_values=batches[0])  # measured, then back in evaluation mode: inference leaves them be
    assert torch.equal(first.running_mean, before)


def test_the_command_writes_a_run_folder_that_scores_the_averaged_weights(tmp_path):
    fixtures = Path(__file__).parent / "fixtures"
    data, votes = fixtures / "fer2013_tiny.csv.gz", fixtures / "ferplus_votes_tiny.csv.gz"
    members = []
    for seed, model in enumerate(small_sepnets(2)):
        members.append(tmp_path / f"member{seed}")
        save_checkpoint(model, image_processor_for(model), members[-1])
    output = tmp_path / "averaged"
    command = [sys.executable, str(ROOT / "train/average_weights.py"), str(output), *map(str, members)]
    done = subprocess.run([*command, "--data", str(data), "--votes", str(votes), "--faces", "40"], **RUN)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["model"] == "sepnet" and metrics["split"] == "validation"
    assert metrics["training"]["averaged_from"] == list(map(str, members))
    assert metrics["training"]["batch_norm_faces"] == 40 and "accuracy" in metrics["ferplus_majority"]
    assert (output / "confusion_matrix.png").is_file() and "average_weights.py" in (output / "command.txt").read_text()
    assert metrics["accuracy"] == evaluate(str(output), str(data), "validation")["accuracy"]  # the saved weights'
    averaged, _ = load_checkpoint(str(output))
    expected = (members_state(members[0]) + members_state(members[1])) / 2
    assert torch.allclose(averaged.state_dict()["classifier.weight"], expected, atol=1e-6)

    again = subprocess.run([*command, "--data", str(data)], **RUN)  # the folder exists: refused, nothing written
    assert again.returncode == 2 and "exists already" in again.stderr


def members_state(folder: Path) -> torch.Tensor:
    return load_checkpoint(str(folder))[0].state_dict()["classifier.weight"]
