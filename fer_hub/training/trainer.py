"""fer-hub's transformers Trainer: the losses (hard labels or FER+ vote distributions), a learning-rate schedule that
can follow a wall-clock budget, checkpoint weights loaded through transformers' key conversions, and the callbacks
for the budget and the training log."""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.optim.lr_scheduler import LambdaLR
from transformers import PreTrainedModel, Trainer, TrainerCallback
from transformers.trainer_utils import get_last_checkpoint

from ..errors import FerHubError

# Trainer's own weight loading (see CheckpointWeights) reports what its by-name load missed with these messages
TRAINER_LOAD_WARNINGS = ("There were missing keys", "There were unexpected keys")


def soft_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor | None = None, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Cross-entropy against target distributions (one row per sample, summing to 1), with class weights and
    label smoothing exactly as `F.cross_entropy` applies them to hard labels: on one-hot targets the two agree.
    Rows of zeros (no target) add nothing to the loss or to the weighted mean's denominator."""
    weight = weight if weight is not None else torch.ones(logits.shape[-1], device=logits.device)
    targets = targets.float()
    smoothed = targets * (1.0 - label_smoothing) + targets.sum(-1, keepdim=True) * (label_smoothing / logits.shape[-1])
    total = -(smoothed * weight * logits.float().log_softmax(-1)).sum()
    return total / (targets * weight).sum().clamp_min(torch.finfo(torch.float32).tiny)


def load_checkpoint_weights(model: PreTrainedModel, folder: str | Path) -> None:
    """Copy the weights of a saved model folder (a Trainer checkpoint) into `model`, in place, through
    `from_pretrained` and so through transformers' key conversions. Trainer's own loading (a resumed run, the best
    model at the end) reads the tensors by name without them: a ViT saves its attention weights under other names
    than its modules', so it left every ViT layer as it was (random on resume, the last epoch's at the end) with
    only a warning. A weight that does not fit is an error here."""
    saved, loading = type(model).from_pretrained(
        folder, config=copy.deepcopy(model.config), ignore_mismatched_sizes=True, output_loading_info=True
    )
    mismatched = [key for key, *_ in loading["mismatched_keys"]]
    unmatched = sorted({*loading["missing_keys"], *loading["unexpected_keys"], *mismatched})
    if unmatched:
        raise FerHubError(f"{folder}: its weights do not fit this model (e.g. {', '.join(unmatched[:3])})")
    model.load_state_dict(saved.state_dict())


class CheckpointWeights(TrainerCallback):
    """Loads every weight of a checkpoint with `load_checkpoint_weights`, over Trainer's own by-name loading: the
    resumed checkpoint's when training begins (Trainer has loaded it, the optimizer and the scheduler by then), the
    best checkpoint's when training ends (after Trainer's own reload of it, with `load_best_model_at_end`). The
    weights are copied into the model's own tensors, so the optimizer's references to them stay valid."""

    def __init__(self, resume_from: str | None = None):
        self.resume_from = resume_from

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.resume_from is not None:
            load_checkpoint_weights(model, self.resume_from)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if args.load_best_model_at_end and state.best_model_checkpoint is not None:
            load_checkpoint_weights(model, state.best_model_checkpoint)


class _WithoutTrainerLoadWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(TRAINER_LOAD_WARNINGS)


@contextlib.contextmanager
def without_trainer_load_warnings() -> Iterator[None]:
    """Drops Trainer's warnings of the weights its own by-name loading missed (a ViT's layers, saved under their
    converted names): `CheckpointWeights` loads every weight afterwards, and stops on one that does not fit."""
    trainer_logger = logging.getLogger(Trainer.__module__)
    dropped = _WithoutTrainerLoadWarnings()
    trainer_logger.addFilter(dropped)
    try:
        yield
    finally:
        trainer_logger.removeFilter(dropped)


class WeightedLossTrainer(Trainer):
    """Cross-entropy with optional class weights and label smoothing, a per-batch mean: against the FER2013
    labels, or with `soft_labels` against the FER+ vote distributions (`soft_cross_entropy`). With a `teacher`,
    training also learns the teacher's predicted class for the same augmented batch (DeiT's hard distillation):
    `distillation_weight` of the loss, the labels the rest; evaluation scores the labels alone. Checkpoints (the
    resumed one, the best one at the end) load through transformers' key conversions (`CheckpointWeights`)."""

    loss_is_scaled_for_ga = False

    def __init__(
        self,
        *args,
        class_weights: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        time_budget: TimeBudget | None = None,
        soft_labels: bool = False,
        teacher: PreTrainedModel | None = None,
        distillation_weight: float = 0.5,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights
        self.label_smoothing = label_smoothing
        self.time_budget = time_budget
        self.soft_labels = soft_labels
        self.teacher = teacher.to(self.args.device).eval().requires_grad_(False) if teacher is not None else None
        self.distillation_weight = distillation_weight
        self.checkpoint_weights = CheckpointWeights()
        self.add_callback(self.checkpoint_weights)

    def train(self, resume_from_checkpoint: str | bool | None = None, **kwargs):
        """Trainer's `train`, with the checkpoint it resumes from handed to `CheckpointWeights` and Trainer's
        warnings of its partial by-name loads dropped (`without_trainer_load_warnings`)."""
        if resume_from_checkpoint is True:  # as Trainer resolves it (None: Trainer's own error)
            resume_from_checkpoint = get_last_checkpoint(self.args.output_dir) or True
        self.checkpoint_weights.resume_from = resume_from_checkpoint or None
        with without_trainer_load_warnings():
            return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)

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
        outputs = model(pixel_values=inputs["pixel_values"])
        weight = self.class_weights.to(outputs.logits.device) if self.class_weights is not None else None
        if self.soft_labels:
            loss = soft_cross_entropy(outputs.logits, inputs["votes"], weight, self.label_smoothing)
        else:
            loss = F.cross_entropy(outputs.logits, inputs["labels"], weight, label_smoothing=self.label_smoothing)
        if self.teacher is not None and model.training:
            with torch.no_grad():
                taught = self.teacher(pixel_values=inputs["pixel_values"]).logits.argmax(-1)
            distillation = F.cross_entropy(outputs.logits, taught, label_smoothing=self.label_smoothing)
            loss = (1.0 - self.distillation_weight) * loss + self.distillation_weight * distillation
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
    """One line per evaluation, on the console and appended to the run's training_log.txt: the mean training loss
    since the previous evaluation and the validation scores."""

    def __init__(self, path: Path):
        self.path = path
        self.evaluated_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.evaluated_step = state.global_step  # a resumed run starts where its checkpoint ended

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_evaluate:
            control.should_log = True  # the loss of the steps since the last log enters log_history first

    on_epoch_end = on_step_end

    def train_loss_since_last_evaluation(self, log_history: list[dict]) -> float:
        """The logged losses since the previous evaluation, each the mean over the steps since the log before it,
        averaged step-weighted (NaN if no step was trained since)."""
        total, steps, previous = 0.0, 0, self.evaluated_step
        for entry in log_history:
            if "loss" in entry and entry["step"] > previous:
                total += entry["loss"] * (entry["step"] - previous)
                steps += entry["step"] - previous
                previous = entry["step"]
        return total / steps if steps else float("nan")

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not state.is_world_process_zero or not metrics:
            return
        train_loss = self.train_loss_since_last_evaluation(state.log_history)
        self.evaluated_step = state.global_step
        line = (
            f"epoch {state.epoch:.2f} step {state.global_step}: "
            f"train_loss {train_loss:.4f} "
            f"val_loss {metrics.get('eval_loss', float('nan')):.4f} "
            f"val_accuracy {metrics['eval_accuracy']:.4f} val_f1_macro {metrics['eval_f1_macro']:.4f}"
        )
        if "eval_ferplus_accuracy" in metrics:
            line += (
                f" val_ferplus_accuracy {metrics['eval_ferplus_accuracy']:.4f}"
                f" val_ferplus_f1_macro {metrics['eval_ferplus_f1_macro']:.4f}"
            )
        print(line, flush=True)
        with self.path.open("a") as log:
            log.write(line + "\n")
