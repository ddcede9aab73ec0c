"""`fer-hub train`: a recipe, FER2013 and transformers' Trainer -> a complete, Hub-ready model folder."""

from __future__ import annotations

import json
import math
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

import datasets
import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
import yaml
from torch.optim.lr_scheduler import LambdaLR
from transformers import EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from .augmentation import AugmentationConfig, augment_batch
from .data import load_fer2013
from .errors import FerHubError
from .evaluation import save_confusion_matrix
from .image_processing_fer import FerImageProcessor
from .labels import LABELS
from .metrics import classification_report, trainer_metrics
from .pretrained import init_from_pretrained
from .recipes import Recipe, default_recipe_path, load_recipe
from .zoo import create_model, image_processor_for, save_checkpoint, zoo_entry

CHECKPOINT_DIR = "checkpoints"
TRAINER_DEFAULTS = dict(
    eval_strategy="epoch",
    save_strategy="epoch",
    logging_strategy="steps",
    logging_steps=50,
    load_best_model_at_end=True,
    metric_for_best_model="accuracy",
    greater_is_better=True,
    save_total_limit=2,
    report_to="none",
    ddp_find_unused_parameters=False,
    remove_unused_columns=False,
    dataloader_num_workers=0,
)


class WeightedLossTrainer(Trainer):
    """Cross-entropy with optional class weights and label smoothing, a per-batch mean."""

    loss_is_scaled_for_ga = False

    def __init__(
        self,
        *args,
        class_weights: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        time_budget: TimeBudget | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights
        self.label_smoothing = label_smoothing
        self.time_budget = time_budget

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        """With a time budget, the schedule follows the clock instead of the step count."""
        if self.time_budget is None or self.lr_scheduler is not None:
            return super().create_scheduler(num_training_steps, optimizer)
        warmup_steps = self.args.get_warmup_steps(num_training_steps)
        self.lr_scheduler = LambdaLR(
            optimizer or self.optimizer, lambda step: self.time_budget.lr_factor(step, warmup_steps, num_training_steps)
        )
        return self.lr_scheduler

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        weight = self.class_weights.to(outputs.logits.device) if self.class_weights is not None else None
        loss = F.cross_entropy(outputs.logits, labels, weight=weight, label_smoothing=self.label_smoothing)
        return (loss, outputs) if return_outputs else loss


class TimeBudget(TrainerCallback):
    """A wall-clock budget. The fraction spent (rank 0's clock, shared by every process, or the
    fraction of steps done if that is larger) drives the learning rate, warmup then cosine decay to
    zero at whichever limit comes first, so a run cut short by the budget still anneals; training
    stops cleanly once it is spent (the stop evaluates and saves)."""

    def __init__(self, minutes: float):
        self.seconds = 60.0 * minutes
        self.started = time.monotonic()
        self.spent = 0.0

    @property
    def expired(self) -> bool:
        return self.spent >= 1.0

    def on_step_begin(self, args, state, control, **kwargs):
        spent = torch.tensor([(time.monotonic() - self.started) / self.seconds], dtype=torch.float64)
        if dist.is_available() and dist.is_initialized():
            dist.broadcast(spent, src=0)
        self.spent = float(spent)

    def on_step_end(self, args, state, control, **kwargs):
        if self.expired:
            control.should_training_stop = True

    def lr_factor(self, step: int, warmup_steps: int, total_steps: int) -> float:
        warmup = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
        progress = min(1.0, max(self.spent, step / total_steps))
        return warmup * 0.5 * (1.0 + math.cos(math.pi * progress))


class EpochLogCallback(TrainerCallback):
    """One line per evaluation, on the console and appended to the run's training_log.txt."""

    def __init__(self, path: Path):
        self.path = path

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not state.is_world_process_zero or not metrics:
            return
        losses = [entry["loss"] for entry in state.log_history if "loss" in entry]
        line = (
            f"epoch {state.epoch:.2f} step {state.global_step}: "
            f"train_loss {losses[-1] if losses else float('nan'):.4f} "
            f"val_loss {metrics.get('eval_loss', float('nan')):.4f} "
            f"val_accuracy {metrics['eval_accuracy']:.4f} val_f1_macro {metrics['eval_f1_macro']:.4f}"
        )
        print(line, flush=True)
        with self.path.open("a") as log:
            log.write(line + "\n")


def _require_train_and_validation(dataset: datasets.DatasetDict, source: str, seed: int) -> datasets.DatasetDict:
    if "train" not in dataset:
        raise FerHubError(f"{source}: has no 'train' split (found: {', '.join(dataset) or 'none'})")
    if "validation" in dataset:
        return dataset
    print(f"{source} has no validation split: holding out a stratified 10% of train for model selection")
    held_out = dataset["train"].train_test_split(test_size=0.1, stratify_by_column="label", seed=seed)
    return datasets.DatasetDict(train=held_out["train"], validation=held_out["test"])


def class_weights(labels: list[int]) -> torch.Tensor:
    """Inverse-square-root class frequencies, scaled to average 1 over the samples."""
    counts = np.bincount(labels, minlength=len(LABELS)).astype(np.float64)
    weights = 1.0 / np.sqrt(np.maximum(counts, 1))
    weights /= (weights * counts).sum() / counts.sum()
    return torch.tensor(weights, dtype=torch.float32)


def resample(split: datasets.Dataset, mode: str, seed: int) -> datasets.Dataset:
    """Over- or undersample every class to the largest or smallest class count (an index map, no copies)."""
    labels = np.asarray(split["label"])
    by_class = [np.flatnonzero(labels == c) for c in range(len(LABELS)) if (labels == c).any()]
    target = max(map(len, by_class)) if mode == "oversample" else min(map(len, by_class))
    rng = np.random.default_rng(seed)
    indices = np.concatenate(
        [rng.choice(idx, target, replace=len(idx) < target) if len(idx) != target else idx for idx in by_class]
    )
    return split.select(rng.permutation(indices))


def gray_pixels(split: datasets.Dataset, processor: FerImageProcessor) -> datasets.Dataset:
    """`split` with each image decoded once, in memory, into `pixels`: its gray levels at the model's input
    size as raw bytes (48x48: 2.3 KB a face). A training step then only views bytes and augments."""

    def encode(batch: dict) -> dict:
        return {"pixels": [processor.resized_gray(image).tobytes() for image in batch["image"]], "label": batch["label"]}

    features = datasets.Features(pixels=datasets.Value("binary"), label=split.features["label"])
    return split.map(
        encode, batched=True, remove_columns=split.column_names, features=features, keep_in_memory=True,
        desc="decoding images",
    )


def batch_transform(processor: FerImageProcessor, augmentation: AugmentationConfig | None):
    """The `set_transform` function of a `gray_pixels` split: raw gray bytes -> (augmented) `pixel_values`
    and `labels` tensors."""
    height, width = processor.size["height"], processor.size["width"]

    def apply(batch: dict) -> dict:
        gray = np.frombuffer(b"".join(batch["pixels"]), np.uint8).reshape(-1, 1, height, width)
        pixel_values = torch.from_numpy(processor.normalize(gray))
        if augmentation is not None:
            pixel_values = augment_batch(pixel_values, augmentation)
        return {"pixel_values": pixel_values, "labels": torch.tensor(batch["label"])}

    return apply


def with_transform(
    split: datasets.Dataset, processor: FerImageProcessor, augmentation: AugmentationConfig | None
) -> datasets.Dataset:
    """`split` serving model inputs on the fly, augmented when `augmentation` is given."""
    split = gray_pixels(split, processor)
    split.set_transform(batch_transform(processor, augmentation))
    return split


def _training_arguments(recipe: Recipe, output_dir: Path, max_steps: int | None, on_cpu: bool) -> TrainingArguments:
    settings = {**TRAINER_DEFAULTS, **recipe.training, "output_dir": str(output_dir / CHECKPOINT_DIR), "use_cpu": on_cpu}
    if max_steps is not None:
        settings["max_steps"] = max_steps
    try:
        return TrainingArguments(**settings)
    except (TypeError, ValueError) as error:
        raise FerHubError(f"{recipe.source}: field 'training': {error}") from None


def train(
    model_name: str,
    data: str,
    output_dir: str | Path,
    recipe_path: str | Path | None = None,
    max_steps: int | None = None,
    time_budget_minutes: float | None = None,
    resume: bool = False,
    init_from: str | None = None,
) -> dict:
    """Train `model_name` on `data` per its recipe; write the best model and its report to `output_dir`."""
    zoo_entry(model_name)  # an unknown name fails before anything else
    output_dir = Path(output_dir)
    on_cpu = not torch.cuda.is_available()
    recipe = load_recipe(recipe_path or default_recipe_path(model_name), on_cpu=on_cpu)
    if recipe.model != model_name:
        raise FerHubError(f"{recipe.source}: this recipe is for model {recipe.model!r}, not {model_name!r}")
    resume_from = None
    if resume:
        resume_from = get_last_checkpoint(str(output_dir / CHECKPOINT_DIR)) if (output_dir / CHECKPOINT_DIR).is_dir() else None
        if resume_from is None:
            raise FerHubError(f"{output_dir}: no checkpoint to resume from in {output_dir / CHECKPOINT_DIR}")
    args = _training_arguments(recipe, output_dir, max_steps, on_cpu)
    set_seed(args.seed)

    with args.main_process_first(desc="loading FER2013"):
        dataset = _require_train_and_validation(load_fer2013(data), data, args.seed)
    if init_from:
        model, processor = init_from_pretrained(model_name, init_from, **recipe.config)
    else:
        model = create_model(model_name, **recipe.config)
        processor = image_processor_for(model)
    if recipe.channels_last:
        model = model.to(memory_format=torch.channels_last)

    train_split = gray_pixels(dataset["train"], processor)
    weights = class_weights(train_split["label"]) if recipe.balancing == "class_weights" else None
    if recipe.balancing in ("oversample", "undersample"):
        train_split = resample(train_split, recipe.balancing, args.seed)  # an index map over the decoded faces
    train_split.set_transform(batch_transform(processor, recipe.augmentation))
    validation = with_transform(dataset["validation"], processor, None)

    output_dir.mkdir(parents=True, exist_ok=True)
    budget = TimeBudget(time_budget_minutes) if time_budget_minutes else None
    callbacks = [EarlyStoppingCallback(recipe.early_stopping_patience), EpochLogCallback(output_dir / "training_log.txt")]
    trainer = WeightedLossTrainer(
        model=model,
        args=args,
        train_dataset=train_split,
        eval_dataset=validation,
        processing_class=processor,
        compute_metrics=trainer_metrics,
        callbacks=callbacks + ([budget] if budget else []),
        class_weights=weights,
        label_smoothing=recipe.label_smoothing,
        time_budget=budget,
    )
    started = time.monotonic()
    result = trainer.train(resume_from_checkpoint=resume_from)
    prediction = trainer.predict(validation)
    if not trainer.is_world_process_zero():
        return {}

    save_checkpoint(trainer.model, processor, output_dir)
    report = classification_report(prediction.label_ids, prediction.predictions.argmax(-1))
    metrics = {
        "split": "validation",
        "data": str(data),
        "model": model_name,
        **report,
        "training": {
            "epochs": round(trainer.state.epoch or 0.0, 3),
            "steps": trainer.state.global_step,
            "wall_minutes_this_run": round((time.monotonic() - started) / 60, 2),
            "time_budget_minutes": time_budget_minutes,
            "stopped_by_time_budget": bool(budget and budget.expired),
            "best_checkpoint": trainer.state.best_model_checkpoint,
            "train_loss": result.training_loss,
            "processes": args.world_size,
            "device": "cpu" if on_cpu else torch.cuda.get_device_name(0),
        },
    }
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    save_confusion_matrix(report["confusion_matrix"], output_dir / "confusion_matrix.png", title=f"{model_name} on validation")
    (output_dir / "trainer_log_history.json").write_text(json.dumps(trainer.state.log_history, indent=1) + "\n")
    (output_dir / "recipe.yaml").write_text(
        yaml.safe_dump({**asdict(recipe), "augmentation": asdict(recipe.augmentation), "training": args.to_sanitized_dict()}, sort_keys=False)
    )
    with (output_dir / "command.txt").open("a") as log:
        log.write(shlex.join(["fer-hub", *sys.argv[1:]]) + "\n")
    return metrics
