"""fer-hub train / evaluate end to end on tiny data and tiny configs: every model, metrics schema,
resume after a kill, torchrun with 2 processes, the time budget, pretrained starts, bad arguments."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest
import torch
import yaml
from transformers import (
    ResNetConfig,
    ResNetForImageClassification,
    TrainerControl,
    TrainerState,
    ViTConfig,
    ViTForImageClassification,
)

from fer_hub import LABELS, list_models
from fer_hub.cli.main import main
from fer_hub.errors import FerHubError, ParameterError
from fer_hub.models.factory import create_model, load_checkpoint
from fer_hub.training.init_from import init_from_pretrained
from fer_hub.training.train import precision_for_gpu, train
from fer_hub.training.trainer import CheckpointWeights, load_checkpoint_weights

FIXTURE = str(Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz")
TINY_CONFIGS = {
    "vgg16": {"block_channels": [[8], [8], [16], [16], [16]], "hidden_size": 32},
    "resnet101": {"depths": [1, 1, 1, 1], "hidden_sizes": [16, 16, 32, 32], "embedding_size": 8},
    "cnn": {"conv_channels": [8, 8, 16], "hidden_size": 32},
    "rnn": {"hidden_size": 8, "dense_size": 8},
    "vit": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64},
    "sepnet": {"stem_channels": [8, 8], "stage_channels": [16, 16, 16]},
}
REPORT_KEYS = {"split", "data", "model", "n", "accuracy", "f1_macro", "per_class", "confusion_matrix"}


def tiny_recipe(folder: Path, model: str, patience: int = 10, **training) -> Path:
    path = folder / f"{model}-tiny.yaml"
    settings = {
        "num_train_epochs": 2,
        "per_device_train_batch_size": 16,
        "per_device_eval_batch_size": 64,
        "learning_rate": 1e-3,
        "logging_steps": 1,
        "seed": 0,
        **training,
    }
    path.write_text(
        yaml.safe_dump(
            {"model": model, "config": TINY_CONFIGS[model], "early_stopping_patience": patience, "training": settings}
        )
    )
    return path


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fer_hub", *args], capture_output=True, text=True, timeout=600, **kwargs
    )


def assert_report(metrics: dict, split: str, n: int) -> None:
    assert set(metrics) >= REPORT_KEYS and metrics["split"] == split and metrics["n"] == n
    assert 0.0 <= metrics["accuracy"] <= 1.0 and 0.0 <= metrics["f1_macro"] <= 1.0
    assert list(metrics["per_class"]) == list(LABELS)
    assert set(metrics["per_class"]["happy"]) == {"precision", "recall", "f1", "support"}
    matrix = metrics["confusion_matrix"]
    assert len(matrix) == 7 and all(len(row) == 7 for row in matrix) and sum(map(sum, matrix)) == n
    correct = sum(matrix[i][i] for i in range(7))
    assert metrics["accuracy"] == pytest.approx(correct / n)


@pytest.mark.slow
@pytest.mark.parametrize("model", list_models())
def test_train_folder_evaluate_for_every_model(model, tmp_path, capsys):
    output = tmp_path / model
    metrics = train(model, FIXTURE, output, recipe_path=tiny_recipe(tmp_path, model))
    assert_report(metrics, "validation", 35)
    assert metrics["training"]["steps"] == 12 and metrics["training"]["epochs"] == pytest.approx(2.0)
    written = {p.name for p in output.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "image_processing_fer.py",
        "metrics.json",
        "training_log.txt",
        "recipe.yaml",
        "confusion_matrix.png",
    } <= written
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in written)
    assert len((output / "training_log.txt").read_text().splitlines()) == 2  # one line per epoch
    assert json.loads((output / "metrics.json").read_text())["accuracy"] == metrics["accuracy"]

    assert (
        main(
            [
                "evaluate",
                "--model",
                str(output),
                "--data",
                FIXTURE,
                "--split",
                "test",
                "--output",
                str(tmp_path / "eval.json"),
                "--tta",
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    assert all(name in table for name in LABELS) and "macro-F1" in table
    evaluated = json.loads((tmp_path / "eval.json").read_text())
    assert_report(evaluated, "test", 14)
    assert evaluated["tta"] is True and (tmp_path / "eval_confusion_matrix.png").stat().st_size > 1000


@pytest.mark.slow
def test_evaluation_matches_the_trained_models_own_predictions(tmp_path):
    output = tmp_path / "cnn"
    trained = train("cnn", FIXTURE, output, recipe_path=tiny_recipe(tmp_path, "cnn"))
    assert main(["evaluate", "--model", str(output), "--data", FIXTURE, "--output", str(tmp_path / "v.json")]) == 0
    evaluated = json.loads((tmp_path / "v.json").read_text())
    assert evaluated["confusion_matrix"] == trained["confusion_matrix"]


@pytest.mark.parametrize("model", list_models())
def test_checkpoint_weights_load_under_their_saved_names(model, tmp_path):
    """A ViT saves its attention weights under other names than its modules' (transformers' key conversions);
    Trainer's own loading missed them, so `--resume` and the best-model reload must go through from_pretrained."""
    torch.manual_seed(0)
    saved = create_model(model, **TINY_CONFIGS[model])
    saved.save_pretrained(tmp_path)
    torch.manual_seed(1)
    target = create_model(model, **TINY_CONFIGS[model])
    load_checkpoint_weights(target, tmp_path)
    expected = saved.state_dict()
    assert all(torch.equal(tensor, expected[name]) for name, tensor in target.state_dict().items())


def test_init_from_names_its_parameter_not_the_flag():
    with pytest.raises(ParameterError) as error:
        init_from_pretrained("cnn", "some/checkpoint")
    assert error.value.parameter == "init_from"
    assert str(error.value) == "init_from: some/checkpoint: an ImageNet checkpoint can start resnet101, vit, not 'cnn'"


def test_checkpoint_weights_that_do_not_fit_are_an_error(tmp_path):
    create_model("vit", **TINY_CONFIGS["vit"], patch_size=16).save_pretrained(tmp_path)
    with pytest.raises(FerHubError, match=f"{tmp_path}: its weights do not fit this model"):
        load_checkpoint_weights(create_model("vit", **TINY_CONFIGS["vit"]), tmp_path)


def test_checkpoint_weights_callback_loads_the_resumed_and_the_best_checkpoint_in_place(tmp_path):
    """The callback that stands in for Trainer's by-name loading: the resumed checkpoint when training begins, the
    best one when it ends, copied into the model's own tensors (the optimizer holds them)."""
    saved = {}
    for seed, name in enumerate(["checkpoint-6", "checkpoint-12"]):
        torch.manual_seed(seed)
        checkpoint = create_model("vit", **TINY_CONFIGS["vit"])
        checkpoint.save_pretrained(tmp_path / name)
        saved[name] = checkpoint.state_dict()
    torch.manual_seed(2)
    model = create_model("vit", **TINY_CONFIGS["vit"])
    tensors = [parameter.data_ptr() for parameter in model.parameters()]
    args, state = SimpleNamespace(load_best_model_at_end=True), TrainerState()
    callback = CheckpointWeights(resume_from=str(tmp_path / "checkpoint-6"))

    def holds(checkpoint: str) -> bool:
        return all(torch.equal(tensor, saved[checkpoint][name]) for name, tensor in model.state_dict().items())

    callback.on_train_begin(args, state, TrainerControl(), model=model)
    assert holds("checkpoint-6")
    callback.on_train_end(args, state, TrainerControl(), model=model)  # no best checkpoint: nothing to load
    assert holds("checkpoint-6")
    state.best_model_checkpoint = str(tmp_path / "checkpoint-12")
    callback.on_train_end(args, state, TrainerControl(), model=model)
    assert holds("checkpoint-12")
    assert [parameter.data_ptr() for parameter in model.parameters()] == tensors


def test_bf16_recipes_fall_back_to_fp16_on_a_gpu_without_bf16(capsys):
    training = {"bf16": True, "learning_rate": 1e-3}
    assert precision_for_gpu(training, on_cpu=False, bf16_supported=False) == {**training, "bf16": False, "fp16": True}
    assert "fp16" in capsys.readouterr().out
    assert precision_for_gpu(training, on_cpu=False, bf16_supported=True) == training
    assert precision_for_gpu(training, on_cpu=True, bf16_supported=False) == training  # CPU bf16 autocast
    assert precision_for_gpu({"learning_rate": 1e-3}, on_cpu=False, bf16_supported=False) == {"learning_rate": 1e-3}


@pytest.mark.slow
def test_the_saved_vit_is_its_best_checkpoint(tmp_path):
    output = tmp_path / "vit"
    metrics = train("vit", FIXTURE, output, recipe_path=tiny_recipe(tmp_path, "vit", num_train_epochs=3))
    best = metrics["training"]["best_checkpoint"]
    assert best and not best.endswith("checkpoint-18")  # 6 steps an epoch: the best epoch was not the last one
    kept, _ = load_checkpoint(output)
    checkpoint, _ = load_checkpoint(best)
    expected = checkpoint.state_dict()
    assert all(torch.equal(tensor, expected[name]) for name, tensor in kept.state_dict().items())


@pytest.mark.slow
def test_a_resumed_vit_loads_every_weight_of_its_checkpoint(tmp_path):
    """Trainer's own resume loading left a ViT's layers random with only a warning ("There were missing keys");
    fer-hub's loading applies the key conversions and stops on any weight that does not fit."""
    output = tmp_path / "vit"
    args = ["train", "--model", "vit", "--data", FIXTURE, "--output-dir", str(output)]
    args += ["--recipe", str(tiny_recipe(tmp_path, "vit"))]
    first = run_cli(*args, "--max-steps", "6")
    assert first.returncode == 0, first.stderr[-2000:]
    resumed = run_cli(*args, "--max-steps", "12", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "missing keys" not in resumed.stdout + resumed.stderr
    assert json.loads((output / "metrics.json").read_text())["training"]["steps"] == 12


@pytest.mark.slow
def test_resume_after_the_run_is_killed(tmp_path):
    recipe = tiny_recipe(
        tmp_path,
        "cnn",
        num_train_epochs=40,
        save_strategy="steps",
        save_steps=50,
        eval_strategy="steps",
        eval_steps=50,
        logging_steps=10,
    )
    output = tmp_path / "run"
    args = ["train", "--model", "cnn", "--data", FIXTURE, "--output-dir", str(output), "--recipe", str(recipe)]
    process = subprocess.Popen(
        [sys.executable, "-m", "fer_hub", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not (output / "checkpoints" / "checkpoint-50" / "trainer_state.json").is_file():
        assert process.poll() is None and time.monotonic() < deadline, "training ended before it could be killed"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (output / "metrics.json").exists()

    resumed = run_cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    history = json.loads((output / "trainer_log_history.json").read_text())
    assert history[-1]["step"] == 240
    assert history[0]["step"] == 10  # the history from before the kill came back with the checkpoint
    assert json.loads((output / "metrics.json").read_text())["training"]["steps"] == 240


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path):
    output = tmp_path / "ddp"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "fer_hub",
            "train",
            "--model",
            "cnn",
            "--data",
            FIXTURE,
            "--output-dir",
            str(output),
            "--recipe",
            str(tiny_recipe(tmp_path, "cnn")),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((output / "metrics.json").read_text())
    assert_report(metrics, "validation", 35)
    assert metrics["training"]["processes"] == 2
    assert metrics["training"]["steps"] == 6  # 84 images / (16 x 2 processes) -> 3 steps an epoch
    assert run.stdout.count("saved ") == 1  # only rank 0 writes the folder


@pytest.mark.slow
def test_time_budget_stops_cleanly_and_keeps_the_best_model(tmp_path):
    output = tmp_path / "budget"
    metrics = train(
        "cnn",
        FIXTURE,
        output,
        recipe_path=tiny_recipe(tmp_path, "cnn", patience=1000, num_train_epochs=500),
        time_budget_minutes=0.1,
    )
    assert metrics["training"]["stopped_by_time_budget"] is True
    assert 0 < metrics["training"]["steps"] < 3000
    history = json.loads((output / "trainer_log_history.json").read_text())
    rates = [entry["learning_rate"] for entry in history if "learning_rate" in entry]
    assert rates[-1] < 0.25 * max(rates)  # the schedule annealed over the budget
    model, _ = load_checkpoint(output)
    assert model.config.model_type == "fer_cnn"


@pytest.mark.slow
def test_class_balancing_options(tmp_path):
    from fer_hub import load_fer2013
    from fer_hub.training.train import class_weights, resample

    weights = class_weights([3] * 90 + [1] * 10)
    assert weights[1] == pytest.approx(3 * weights[3])
    split = load_fer2013(FIXTURE)["train"].select(range(20))  # classes 0 (12 rows) and 1 (8 rows)
    assert sorted(set(resample(split, "oversample", 0)["label"])) == [0, 1]
    assert len(resample(split, "oversample", 0)) == 24 and len(resample(split, "undersample", 0)) == 16


def save_rgb_checkpoint(model, folder: Path, side: int) -> Path:
    model.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({"crop_size": {"height": side, "width": side}}))
    return folder


@pytest.mark.slow
def test_init_from_rgb_checkpoints_averages_the_first_layer(tmp_path):
    resnet = ResNetForImageClassification(
        ResNetConfig(
            num_channels=3, embedding_size=8, hidden_sizes=[16, 16, 32, 32], depths=[1, 1, 1, 1], num_labels=1000
        )
    )
    vit = ViTForImageClassification(
        ViTConfig(
            image_size=32,
            patch_size=8,
            num_channels=3,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
        )
    )
    for name, source, first, side in (
        ("resnet101", resnet, "resnet.embedder.embedder.convolution.weight", 64),
        ("vit", vit, "vit.embeddings.patch_embeddings.projection.weight", 32),
    ):
        folder = save_rgb_checkpoint(source, tmp_path / name, side)
        model, processor = init_from_pretrained(name, str(folder))
        torch.testing.assert_close(model.state_dict()[first], source.state_dict()[first].mean(dim=1, keepdim=True))
        assert model.config.num_channels == 1 and model.config.num_labels == 7
        assert processor.size == {"height": side, "width": side}
        assert model(pixel_values=torch.randn(2, 1, side, side)).logits.shape == (2, 7)

    output = tmp_path / "from-vit"
    recipe = tmp_path / "vit-init.yaml"
    recipe.write_text(yaml.safe_dump({"model": "vit", "training": {"max_steps": 2, "per_device_train_batch_size": 8}}))
    metrics = train("vit", FIXTURE, output, recipe_path=recipe, init_from=str(tmp_path / "vit"))
    assert metrics["n"] == 35
    assert json.loads((output / "preprocessor_config.json").read_text())["size"] == {"height": 32, "width": 32}


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--model", "vgg19", "--data", FIXTURE, "--output-dir", "x"], "unknown model 'vgg19'"),
        (
            ["train", "--model", "cnn", "--data", "missing.csv", "--output-dir", "x"],
            "missing.csv: no such file or folder",
        ),
        (
            ["train", "--model", "cnn", "--data", FIXTURE, "--output-dir", "x", "--resume"],
            "no checkpoint to resume from",
        ),
        (
            ["train", "--model", "cnn", "--data", FIXTURE, "--output-dir", "x", "--recipe", "train/recipes/rnn.yaml"],
            "this recipe is for model 'rnn', not 'cnn'",
        ),
        (
            ["train", "--model", "cnn", "--data", FIXTURE, "--output-dir", "x", "--init-from", "some/checkpoint"],
            "error: --init-from: some/checkpoint: an ImageNet checkpoint can start resnet101, vit, not 'cnn'",
        ),
        (
            [
                "evaluate",
                "--model",
                "fer_hub/default_model",
                "--data",
                "tests/fixtures/only-train.csv",
                "--split",
                "test",
            ],
            "has no 'test' split (found: train)",
        ),
        (["evaluate", "--model", "no/such-model-here", "--data", FIXTURE], "cannot load a model"),
    ],
)
def test_bad_arguments_give_clear_errors(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(Path(__file__).parents[1])
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert main(args) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error
    assert not Path("x").exists()
