"""`fer-hub train`: a recipe, FER2013 and transformers' Trainer -> a complete, Hub-ready model folder.

Two label sets: FER2013's single labels (hard-label cross-entropy), or the FER+ crowd votes (`labels="ferplus"`:
cross-entropy against each face's vote distribution, Barsoum et al. 2016's "probability" scheme; faces with no
clear FER+ majority are left out). With votes attached, every evaluation scores both label sets."""

from __future__ import annotations

import copy
import dataclasses
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
from transformers import EarlyStoppingCallback, PreTrainedModel, Trainer, TrainerCallback, TrainingArguments, set_seed

from ..checks import check_training_limits
from ..data.augmentation import AugmentationConfig, augment_batch
from ..data.fer2013 import dataset_split, load_fer2013
from ..errors import FerHubError
from ..evaluation.evaluate import save_confusion_matrix
from ..evaluation.metrics import label_set_reports, trainer_metrics
from ..labels import ID2LABEL, LABELS, NO_FERPLUS_LABEL
from ..models.factory import create_model, image_processor_for, save_checkpoint
from ..models.image_processing_fer import FerImageProcessor
from ..models.registry import model_entry
from .init_from import init_from_pretrained
from .recipes import LABEL_SETS, Recipe, default_recipe_path, load_recipe
from .run_folder import CHECKPOINT_DIR, COMMAND_LOG, TRAINING_LOG, check_run_folder

TRAINING_LABEL_COLUMN = {"fer2013": "label", "ferplus": "ferplus_label"}  # what balancing counts, per label set
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
    """Copy the weights of a saved model folder (a Trainer checkpoint) into `model`, through `from_pretrained` and so
    through transformers' key conversions. Trainer's own loading (`--resume`, the best model at the end) reads the
    tensors by name without them: a ViT saves its attention weights under other names than its modules', so it left
    every ViT layer as it was (random on resume, the last epoch's at the end) with only a warning. A weight that does
    not fit is an error here."""
    saved, loading = type(model).from_pretrained(
        folder, config=copy.deepcopy(model.config), ignore_mismatched_sizes=True, output_loading_info=True
    )
    mismatched = [key for key, *_ in loading["mismatched_keys"]]
    unmatched = sorted({*loading["missing_keys"], *loading["unexpected_keys"], *mismatched})
    if unmatched:
        raise FerHubError(f"{folder}: its weights do not fit this model (e.g. {', '.join(unmatched[:3])})")
    model.load_state_dict(saved.state_dict())


class WeightedLossTrainer(Trainer):
    """Cross-entropy with optional class weights and label smoothing, a per-batch mean: against the FER2013
    labels, or with `soft_labels` against the FER+ vote distributions (`soft_cross_entropy`)."""

    loss_is_scaled_for_ga = False

    def __init__(
        self,
        *args,
        class_weights: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        time_budget: TimeBudget | None = None,
        soft_labels: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights
        self.label_smoothing = label_smoothing
        self.time_budget = time_budget
        self.soft_labels = soft_labels

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: torch.nn.Module | None = None) -> None:
        load_checkpoint_weights(model if model is not None else self.model, resume_from_checkpoint)

    def _load_best_model(self) -> None:
        load_checkpoint_weights(self.model, self.state.best_model_checkpoint)

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


def _require_train_and_validation(dataset: datasets.DatasetDict, source: str, seed: int) -> datasets.DatasetDict:
    dataset_split(dataset, "train", source)  # or a FerHubError naming the splits there are
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


def resample(split: datasets.Dataset, mode: str, seed: int, column: str = "label") -> datasets.Dataset:
    """Over- or undersample every class of `column` to the largest or smallest class count (an index map, no copies)."""
    labels = np.asarray(split[column])
    by_class = [np.flatnonzero(labels == c) for c in range(len(LABELS)) if (labels == c).any()]
    target = max(map(len, by_class)) if mode == "oversample" else min(map(len, by_class))
    rng = np.random.default_rng(seed)
    indices = np.concatenate(
        [rng.choice(idx, target, replace=len(idx) < target) if len(idx) != target else idx for idx in by_class]
    )
    return split.select(rng.permutation(indices))


def gray_pixels(split: datasets.Dataset, processor: FerImageProcessor) -> datasets.Dataset:
    """`split` with each image decoded once, in memory, into `pixels`: its gray levels at the model's input
    size as raw bytes (48x48: 2.3 KB a face), beside the other columns (labels, votes). A training step then
    only views bytes and augments."""

    def encode(batch: dict) -> dict:
        return {"pixels": [processor.resized_gray(image).tobytes() for image in batch["image"]]}

    others = {name: feature for name, feature in split.features.items() if name != "image"}
    features = datasets.Features(pixels=datasets.Value("binary"), **others)
    return split.map(
        encode,
        batched=True,
        remove_columns=["image"],
        features=features,
        keep_in_memory=True,
        desc="decoding images",
    )


def batch_transform(processor: FerImageProcessor, augmentation: AugmentationConfig | None):
    """The `set_transform` function of a `gray_pixels` split: raw gray bytes -> (augmented) `pixel_values`
    and `labels` tensors; with FER+ votes also `votes` (zeros for faces with no clear FER+ majority, which the
    soft-label loss then skips) and `ferplus_labels`."""
    height, width = processor.size["height"], processor.size["width"]

    def apply(batch: dict) -> dict:
        gray = np.frombuffer(b"".join(batch["pixels"]), np.uint8).reshape(-1, 1, height, width)
        pixel_values = torch.from_numpy(processor.normalize(gray))
        if augmentation is not None:
            pixel_values = augment_batch(pixel_values, augmentation)
        inputs = {"pixel_values": pixel_values, "labels": torch.tensor(batch["label"])}
        if "votes" in batch:
            ferplus_labels = torch.tensor(batch["ferplus_label"])
            clear = (ferplus_labels != NO_FERPLUS_LABEL).unsqueeze(-1)
            inputs |= {"votes": torch.tensor(batch["votes"]) * clear, "ferplus_labels": ferplus_labels}
        return inputs

    return apply


def with_transform(
    split: datasets.Dataset, processor: FerImageProcessor, augmentation: AugmentationConfig | None
) -> datasets.Dataset:
    """`split` serving model inputs on the fly, augmented when `augmentation` is given."""
    split = gray_pixels(split, processor)
    split.set_transform(batch_transform(processor, augmentation))
    return split


def with_clear_ferplus_majority(split: datasets.Dataset) -> datasets.Dataset:
    """The faces of `split` that have a clear FER+ majority (an index map): FER+ training leaves out the rest."""
    clear = np.flatnonzero(np.asarray(split["ferplus_label"]) != NO_FERPLUS_LABEL)
    print(f"FER+ labels: training on the {len(clear)} of {len(split)} faces with a clear FER+ majority")
    return split.select(clear)


def initial_model(model_name: str, init_from: str, config_overrides: dict) -> tuple[PreTrainedModel, FerImageProcessor]:
    """`--init-from`: a fer-hub model folder of the same architecture (its weights and image processor, the
    recipe's `config` applied on top), or else an ImageNet checkpoint for resnet101 / vit (`init_from_pretrained`)."""
    folder = Path(init_from)
    processor_config = folder / "preprocessor_config.json"
    if not (processor_config.is_file() and FerImageProcessor.__name__ in processor_config.read_text(encoding="utf-8")):
        return init_from_pretrained(model_name, init_from, **config_overrides)
    entry = model_entry(model_name)
    try:
        model_type = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError) as error:
        raise FerHubError(f"{folder / 'config.json'}: cannot read the model's config ({error})") from None
    if model_type != entry.config_class.model_type:
        raise FerHubError(
            f"{folder}: a {model_type!r} model cannot initialise {model_name} (needs {entry.config_class.model_type!r})"
        )
    try:  # fer-hub's own class, not the folder's copy of its code
        model, loading = entry.model_class.from_pretrained(folder, output_loading_info=True, **config_overrides)
        processor = FerImageProcessor.from_pretrained(folder)
    except (OSError, ValueError, RuntimeError) as error:
        raise FerHubError(
            f"{folder}: cannot start {model_name} from this model folder with the recipe's config {config_overrides} "
            f"({error})"
        ) from None
    mismatched = {key for key, *_ in loading["mismatched_keys"]}
    unmatched = sorted(loading["missing_keys"] | loading["unexpected_keys"] | mismatched)
    if unmatched:
        raise FerHubError(
            f"{folder}: its weights do not fit {model_name} with this recipe's config "
            f"(e.g. {', '.join(unmatched[:3])}); a start from a model folder takes every weight"
        )
    if model.config.id2label != ID2LABEL:
        raise FerHubError(f"{folder}: its classes {list(model.config.id2label.values())} are not {', '.join(LABELS)}")
    return model, processor


def precision_for_gpu(training: dict, on_cpu: bool, bf16_supported: bool) -> dict:
    """A recipe's `training` settings for this machine: on a GPU without bf16 (before Ampere: T4, V100) its
    `bf16: true` becomes fp16 mixed precision, which Trainer runs with loss scaling, instead of an error."""
    if on_cpu or bf16_supported or not training.get("bf16"):
        return training
    print("this GPU has no bf16: training with fp16 mixed precision instead")
    return {**training, "bf16": False, "fp16": True}


def _training_arguments(
    recipe: Recipe, output_dir: Path, max_steps: int | None, on_cpu: bool, with_votes: bool
) -> TrainingArguments:
    label_settings = {}
    if with_votes:  # evaluation batches carry both label sets; selection follows the one trained on
        label_settings["label_names"] = ["labels", "ferplus_labels"]
    if recipe.labels == "ferplus":
        label_settings["metric_for_best_model"] = "ferplus_accuracy"
    settings = {
        **TRAINER_DEFAULTS,
        "disable_tqdm": not sys.stderr.isatty(),  # no progress bars (escape codes) in log files
        **label_settings,
        **precision_for_gpu(recipe.training, on_cpu, on_cpu or torch.cuda.is_bf16_supported()),
        "output_dir": str(output_dir / CHECKPOINT_DIR),
        "use_cpu": on_cpu,
    }
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
    labels: str | None = None,
    votes: str | None = None,
    overwrite: bool = False,
) -> dict:
    """Train `model_name` on `data` per its recipe; write the best model and its report to `output_dir`.

    `labels` ("fer2013" or "ferplus", default: the recipe's) picks the training targets; "ferplus" needs `votes`,
    the FER+ votes file for the rows of `data`. With `votes`, metrics cover both label sets."""
    model_entry(model_name)  # an unknown name fails before anything else
    output_dir = Path(output_dir)
    on_cpu = not torch.cuda.is_available()
    if not on_cpu:  # fixed input sizes: cuDNN times its convolutions once, then reuses the fastest
        torch.backends.cudnn.benchmark = True
    recipe = load_recipe(recipe_path or default_recipe_path(model_name), on_cpu=on_cpu)
    if recipe.model != model_name:
        raise FerHubError(f"{recipe.source}: this recipe is for model {recipe.model!r}, not {model_name!r}")
    recipe = dataclasses.replace(recipe, labels=labels or recipe.labels)
    if recipe.labels not in LABEL_SETS:
        raise FerHubError(f"labels {recipe.labels!r}: expected one of {', '.join(LABEL_SETS)}")
    if recipe.labels == "ferplus" and not votes:
        raise FerHubError("training on FER+ labels needs the FER+ votes for the data's rows: give --votes PATH")
    check_training_limits(max_steps, time_budget_minutes)
    run = check_run_folder(output_dir, resume=resume, overwrite=overwrite)  # one run per folder, see run_folder
    resume_from = run.resume_from
    args = _training_arguments(recipe, output_dir, max_steps, on_cpu, with_votes=votes is not None)
    set_seed(args.seed)

    with args.main_process_first(desc="loading FER2013"):
        dataset = _require_train_and_validation(load_fer2013(data, votes=votes), data, args.seed)
    if init_from:
        model, processor = initial_model(model_name, init_from, recipe.config)
    else:
        model = create_model(model_name, **recipe.config)
        processor = image_processor_for(model)
    if recipe.channels_last:
        model = model.to(memory_format=torch.channels_last)

    train_split = gray_pixels(dataset["train"], processor)
    if recipe.labels == "ferplus":
        train_split = with_clear_ferplus_majority(train_split)
    label_column = TRAINING_LABEL_COLUMN[recipe.labels]
    weights = class_weights(train_split[label_column]) if recipe.balancing == "class_weights" else None
    if recipe.balancing in ("oversample", "undersample"):
        train_split = resample(train_split, recipe.balancing, args.seed, label_column)  # an index map, no copies
    train_split.set_transform(batch_transform(processor, recipe.augmentation))
    validation = with_transform(dataset["validation"], processor, None)

    run.claim(args.process_index == 0)
    budget = TimeBudget(time_budget_minutes) if time_budget_minutes else None
    callbacks = [
        EarlyStoppingCallback(recipe.early_stopping_patience),
        EpochLogCallback(output_dir / TRAINING_LOG),
    ]
    callbacks += run.callbacks()
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
        soft_labels=recipe.labels == "ferplus",
    )
    started = time.monotonic()
    result = trainer.train(resume_from_checkpoint=resume_from)
    prediction = trainer.predict(validation)
    if not trainer.is_world_process_zero():
        return {}

    save_checkpoint(trainer.model, processor, output_dir)
    labels_and_ferplus = prediction.label_ids if votes is not None else (prediction.label_ids, None)
    report = label_set_reports(prediction.predictions.argmax(-1), *labels_and_ferplus)
    metrics = {
        "split": "validation",
        "data": str(data),
        **({"votes": str(votes)} if votes is not None else {}),
        "model": model_name,
        **report,
        "training": {
            "labels": recipe.labels,
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
    save_confusion_matrix(
        report["confusion_matrix"], output_dir / "confusion_matrix.png", title=f"{model_name} on validation"
    )
    (output_dir / "trainer_log_history.json").write_text(json.dumps(trainer.state.log_history, indent=1) + "\n")
    (output_dir / "recipe.yaml").write_text(
        yaml.safe_dump(
            {**asdict(recipe), "augmentation": asdict(recipe.augmentation), "training": args.to_sanitized_dict()},
            sort_keys=False,
        )
    )
    with (output_dir / COMMAND_LOG).open("a") as log:
        log.write(shlex.join(["fer-hub", *sys.argv[1:]]) + "\n")
    return metrics
