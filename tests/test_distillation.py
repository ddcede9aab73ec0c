"""Training with a teacher (a recipe's `teacher`): DeiT's hard distillation in the loss, the teacher's checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from transformers import TrainingArguments

from fer_hub.errors import FerHubError
from fer_hub.hub.model_card import render_model_card
from fer_hub.models.factory import create_model
from fer_hub.training.recipes import load_recipe
from fer_hub.training.train import train
from fer_hub.training.trainer import WeightedLossTrainer

FIXTURE = str(Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz")
TINY_CNN = {"conv_channels": [8, 8, 16], "hidden_size": 32}


def distilling_trainer(tmp_path: Path, weight: float) -> WeightedLossTrainer:
    torch.manual_seed(0)
    model, teacher = create_model("cnn", **TINY_CNN), create_model("cnn", **TINY_CNN)
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    return WeightedLossTrainer(model=model, args=args, label_smoothing=0.1, teacher=teacher, distillation_weight=weight)


def test_training_loss_mixes_the_labels_and_the_teachers_classes(tmp_path):
    trainer = distilling_trainer(tmp_path, weight=0.3)
    pixels = torch.randn(16, 1, 48, 48)
    taught = trainer.teacher(pixel_values=pixels).logits.argmax(-1)
    labels = (taught + 1) % 7  # the labels never agree with the teacher
    inputs = {"pixel_values": pixels, "labels": labels}

    trainer.model.train()
    loss, outputs = trainer.compute_loss(trainer.model, inputs, return_outputs=True)
    by_labels = F.cross_entropy(outputs.logits, labels, label_smoothing=0.1)
    by_teacher = F.cross_entropy(outputs.logits, taught, label_smoothing=0.1)
    assert not torch.isclose(by_labels, by_teacher)
    assert loss.item() == pytest.approx((0.7 * by_labels + 0.3 * by_teacher).item(), rel=1e-5)

    trainer.model.eval()  # evaluation scores the labels alone
    loss, outputs = trainer.compute_loss(trainer.model, inputs, return_outputs=True)
    assert loss.item() == pytest.approx(F.cross_entropy(outputs.logits, labels, label_smoothing=0.1).item(), rel=1e-5)


def test_the_teacher_is_frozen(tmp_path):
    trainer = distilling_trainer(tmp_path, weight=0.5)
    assert not trainer.teacher.training
    assert not any(parameter.requires_grad for parameter in trainer.teacher.parameters())


def distilled_recipe(folder: Path, teacher: str | Path, **fields) -> Path:
    path = folder / "cnn-distilled.yaml"
    training = {"max_steps": 3, "per_device_train_batch_size": 16, "logging_steps": 1, "seed": 0}
    recipe = {"model": "cnn", "config": TINY_CNN, "training": training, "teacher": str(teacher), **fields}
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.mark.slow
def test_a_run_with_a_teacher_records_it(trained_model_dir, tmp_path):
    output = tmp_path / "student"
    metrics = train("cnn", FIXTURE, output, recipe_path=distilled_recipe(tmp_path, trained_model_dir))
    assert metrics["training"]["steps"] == 3
    saved = yaml.safe_load((output / "recipe.yaml").read_text())
    assert (saved["teacher"], saved["distillation_weight"]) == (str(trained_model_dir), 0.5)
    card = render_model_card(output).text
    assert f"| teacher (hard distillation) | the local folder {trained_model_dir.name}, 0.5 of the loss |" in card
    assert str(trained_model_dir) not in card  # local paths stay private


@pytest.mark.slow
def test_a_teacher_that_sees_other_images_is_an_error(trained_model_dir, tmp_path):
    teacher = shutil.copytree(trained_model_dir, tmp_path / "teacher")
    processor = json.loads((teacher / "preprocessor_config.json").read_text())
    (teacher / "preprocessor_config.json").write_text(json.dumps({**processor, "image_mean": 0.4}))
    recipe = distilled_recipe(tmp_path, teacher)
    with pytest.raises(
        FerHubError, match=r"cnn-distilled.yaml: field 'teacher': .*teacher: its images differ .*image_mean 0.4"
    ):
        train("cnn", FIXTURE, tmp_path / "student", recipe_path=recipe)
    assert not (tmp_path / "student" / "config.json").exists()


def test_a_distillation_weight_outside_0_to_1_is_an_error(tmp_path):
    recipe = distilled_recipe(tmp_path, "sepnet.fer2013", distillation_weight=1.5)
    with pytest.raises(FerHubError, match="field 'distillation_weight' is 1.5; expected 0 to 1"):
        load_recipe(recipe, on_cpu=True)
