"""The report a training run writes beside its model: metrics.json (the validation scores and how the run went), the
confusion matrix, Trainer's log history and the recipe as run (recipe.yaml)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import yaml
from transformers import TrainerState, TrainingArguments
from transformers.trainer_utils import PredictionOutput

from ..evaluation.evaluate import save_confusion_matrix
from ..evaluation.metrics import label_set_reports
from .recipes import Recipe


def validation_scores(prediction: PredictionOutput, with_votes: bool) -> dict:
    """The scores of the validation predictions on the FER2013 labels, and with votes also on the FER+ majorities
    (`label_set_reports`)."""
    labels_and_ferplus = prediction.label_ids if with_votes else (prediction.label_ids, None)
    return label_set_reports(prediction.predictions.argmax(-1), *labels_and_ferplus)


def training_summary(
    recipe: Recipe,
    state: TrainerState,
    args: TrainingArguments,
    train_loss: float,
    *,
    wall_seconds: float,
    time_budget_minutes: float | None,
    stopped_by_time_budget: bool,
    device: str,
) -> dict:
    """metrics.json's `training`: the label set trained on, how far the run got, and where and how it ran."""
    return {
        "labels": recipe.labels,
        "epochs": round(state.epoch or 0.0, 3),
        "steps": state.global_step,
        "wall_minutes_this_run": round(wall_seconds / 60, 2),
        "time_budget_minutes": time_budget_minutes,
        "stopped_by_time_budget": stopped_by_time_budget,
        "best_checkpoint": state.best_model_checkpoint,
        "train_loss": train_loss,
        "processes": args.world_size,
        "device": device,
    }


def run_metrics(model_name: str, data: str, votes: str | None, scores: dict, training: dict) -> dict:
    """metrics.json: what was trained on what, the validation `scores` and the `training_summary`."""
    return {
        "split": "validation",
        "data": str(data),
        **({"votes": str(votes)} if votes is not None else {}),
        "model": model_name,
        **scores,
        "training": training,
    }


def write_report(
    output_dir: Path, metrics: dict, recipe: Recipe, args: TrainingArguments, log_history: list[dict]
) -> None:
    """Write metrics.json, confusion_matrix.png, trainer_log_history.json and recipe.yaml (the recipe with the
    TrainingArguments the run used) into `output_dir`."""
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    save_confusion_matrix(
        metrics["confusion_matrix"], output_dir / "confusion_matrix.png", title=f"{metrics['model']} on validation"
    )
    (output_dir / "trainer_log_history.json").write_text(json.dumps(log_history, indent=1) + "\n")
    (output_dir / "recipe.yaml").write_text(
        yaml.safe_dump(
            {**asdict(recipe), "augmentation": asdict(recipe.augmentation), "training": args.to_sanitized_dict()},
            sort_keys=False,
        )
    )
