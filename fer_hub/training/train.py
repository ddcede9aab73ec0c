"""`fer-hub train`: a recipe, FER2013 and transformers' Trainer -> a complete, Hub-ready model folder.

Two label sets: FER2013's single labels (hard-label cross-entropy), or the FER+ crowd votes (`labels="ferplus"`:
cross-entropy against each face's vote distribution, Barsoum et al. 2016's "probability" scheme; faces with no
clear FER+ majority are left out). With votes attached, every evaluation scores both label sets.

`train` runs the steps below in turn: the recipe and TrainingArguments for the run, the data splits, the model and
its image processor, the model inputs, the Trainer (trainer.py), and the model folder with its report (report.py)."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import NamedTuple

import datasets
import numpy as np
import torch
from transformers import EarlyStoppingCallback, PreTrainedModel, TrainingArguments, set_seed

from ..checks import check_training_limits
from ..data.augmentation import AugmentationConfig, augment_batch
from ..data.fer2013 import dataset_split, load_fer2013
from ..errors import FerHubError, ParameterError
from ..evaluation.metrics import trainer_metrics
from ..labels import ID2LABEL, LABELS, NO_FERPLUS_LABEL
from ..models.factory import (
    check_model_source,
    create_model,
    image_processor_for,
    load_checkpoint,
    looks_like_path,
    save_checkpoint,
)
from ..models.image_processing_fer import FerImageProcessor
from ..models.pretrained import resolve_model
from ..models.registry import model_entry
from .init_from import init_from_pretrained
from .recipes import LABEL_SETS, Recipe, load_recipe, training_target
from .report import run_metrics, training_summary, validation_scores, write_report
from .run_folder import CHECKPOINT_DIR, TRAINING_LOG, RunFolder, check_run_folder
from .trainer import EpochLogCallback, TimeBudget, WeightedLossTrainer

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


def downloaded(repo_id: str) -> str:
    """The local folder of a Hub model repo (downloaded once into the Hub cache)."""
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id)
    except Exception as error:  # offline, no such repo, no access: what the Hub said, on one line
        raise ParameterError(
            "init_from", f"{repo_id}: cannot download it from the Hub ({type(error).__name__})"
        ) from None


def check_fer2013_classes(model: PreTrainedModel, where: str) -> None:
    """A FerHubError naming `where` unless `model` classifies FER2013's seven classes, in their order."""
    if model.config.id2label != ID2LABEL:
        raise FerHubError(f"{where}: its classes {list(model.config.id2label.values())} are not {', '.join(LABELS)}")


def initial_model(model_name: str, init_from: str, config_overrides: dict) -> tuple[PreTrainedModel, FerImageProcessor]:
    """`init_from`: a trained model's name or a fer-hub model folder of the same architecture (its weights and image
    processor, the recipe's `config` applied on top), or else an ImageNet checkpoint for resnet101 / vit
    (`init_from_pretrained`)."""
    location = resolve_model(init_from)
    if location != init_from and not Path(location).exists():  # a trained model's name, its weights on the Hub
        location = downloaded(location)
    init_from = location
    if not Path(init_from).exists() and looks_like_path(init_from):
        raise ParameterError("init_from", f"{init_from}: no such model folder")
    folder = Path(init_from)
    processor_config = folder / "preprocessor_config.json"
    if not (processor_config.is_file() and FerImageProcessor.__name__ in processor_config.read_text(encoding="utf-8")):
        return init_from_pretrained(model_name, init_from, **config_overrides)
    entry = model_entry(model_name)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        model_type = config.get("model_type") if isinstance(config, dict) else None
    except (OSError, ValueError) as error:
        raise FerHubError(f"{folder / 'config.json'}: cannot read the model's config ({error})") from None
    if model_type != entry.config_class.model_type:
        raise ParameterError(
            "init_from",
            f"{folder}: a {model_type!r} model cannot initialise {model_name} (needs {entry.config_class.model_type!r})",
        )
    check_model_source(str(folder), config_overrides=config_overrides)
    try:  # fer-hub's own class, not the folder's copy of its code
        model, loading = entry.model_class.from_pretrained(
            folder, output_loading_info=True, use_safetensors=True, **config_overrides
        )
        processor = FerImageProcessor.from_pretrained(folder)
    except (OSError, ValueError, RuntimeError) as error:
        raise FerHubError(
            f"{folder}: cannot start {model_name} from this model folder with the recipe's config {config_overrides} "
            f"({error})"
        ) from None
    mismatched = {key for key, *_ in loading["mismatched_keys"]}
    unmatched = sorted(loading["missing_keys"] | loading["unexpected_keys"] | mismatched)
    if unmatched:
        raise ParameterError(
            "init_from",
            f"{folder}: its weights do not fit {model_name} with this recipe's config "
            f"(e.g. {', '.join(unmatched[:3])}); a start from a model folder takes every weight",
        )
    check_fer2013_classes(model, str(folder))
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


def trains_on_cpu() -> bool:
    """Whether this run trains on the CPU (no GPU here). On a GPU, cuDNN benchmarks its convolutions: the input sizes
    are fixed, so it times them once and then reuses the fastest."""
    on_cpu = not torch.cuda.is_available()
    if not on_cpu:
        torch.backends.cudnn.benchmark = True
    return on_cpu


def run_recipe(model_name: str, recipe_path: str | Path, labels: str | None, votes: str | None, on_cpu: bool) -> Recipe:
    """The recipe the run follows: `recipe_path` read for this machine, with `labels` over the recipe's label set;
    FER+ labels need `votes`."""
    recipe = load_recipe(recipe_path, on_cpu=on_cpu)
    if recipe.model != model_name:
        raise FerHubError(f"{recipe.source}: this recipe is for model {recipe.model!r}, not {model_name!r}")
    if labels and labels not in LABEL_SETS:
        raise ParameterError("labels", f"{labels!r} is not one of {', '.join(LABEL_SETS)}")
    recipe = dataclasses.replace(recipe, labels=labels or recipe.labels)
    if recipe.labels == "ferplus" and not votes:
        raise ParameterError("votes", "training on FER+ labels needs the FER+ votes for the data's rows")
    return recipe


def load_splits(data: str, votes: str | None, args: TrainingArguments) -> datasets.DatasetDict:
    """The train and validation splits of `data` (with its FER+ `votes`), read by the main process first."""
    with args.main_process_first(desc="loading FER2013"):
        return _require_train_and_validation(load_fer2013(data, votes=votes), data, args.seed)


def build_model(model_name: str, recipe: Recipe, init_from: str | None) -> tuple[PreTrainedModel, FerImageProcessor]:
    """The model to train, new from the recipe's config or started from `init_from`, and its image processor."""
    if init_from:
        model, processor = initial_model(model_name, init_from, recipe.config)
    else:
        model = create_model(model_name, **recipe.config)
        processor = image_processor_for(model)
    if recipe.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, processor


def load_teacher(recipe: Recipe, processor: FerImageProcessor) -> PreTrainedModel:
    """The recipe's `teacher`: a trained model (name or folder) over the FER2013 classes that takes the very pixel
    values the trained model does (same size and normalisation), so both see each augmented batch as it is."""
    teacher, teacher_processor = load_checkpoint(recipe.teacher)
    problem = f"{recipe.source}: field 'teacher': {recipe.teacher}"
    check_fer2013_classes(teacher, problem)
    differing = [
        f"{name} {getattr(teacher_processor, name)} vs {getattr(processor, name)}"
        for name in ("size", "image_mean", "image_std")
        if getattr(teacher_processor, name) != getattr(processor, name)
    ]
    if differing:
        raise FerHubError(f"{problem}: its images differ from the model's ({'; '.join(differing)})")
    return teacher


class ModelInputs(NamedTuple):
    train: datasets.Dataset
    validation: datasets.Dataset
    class_weights: torch.Tensor | None  # for the recipe's `class_weights` balancing, else None


def model_inputs(dataset: datasets.DatasetDict, processor: FerImageProcessor, recipe: Recipe, seed: int) -> ModelInputs:
    """The training and validation inputs. The training split keeps, for FER+ labels, the faces with a clear
    majority, is balanced per the recipe and augmented; the validation split serves every face as it is."""
    train_split = gray_pixels(dataset["train"], processor)
    if recipe.labels == "ferplus":
        train_split = with_clear_ferplus_majority(train_split)
    label_column = TRAINING_LABEL_COLUMN[recipe.labels]
    weights = class_weights(train_split[label_column]) if recipe.balancing == "class_weights" else None
    if recipe.balancing in ("oversample", "undersample"):
        train_split = resample(train_split, recipe.balancing, seed, label_column)  # an index map, no copies
    train_split.set_transform(batch_transform(processor, recipe.augmentation))
    return ModelInputs(train_split, with_transform(dataset["validation"], processor, None), weights)


def build_trainer(
    model: PreTrainedModel,
    processor: FerImageProcessor,
    args: TrainingArguments,
    recipe: Recipe,
    inputs: ModelInputs,
    run: RunFolder,
    budget: TimeBudget | None,
    teacher: PreTrainedModel | None = None,
) -> WeightedLossTrainer:
    """The Trainer of the run, with early stopping, the training log, the run folder's callbacks and the budget."""
    callbacks = [EarlyStoppingCallback(recipe.early_stopping_patience), EpochLogCallback(run.path / TRAINING_LOG)]
    callbacks += run.callbacks() + ([budget] if budget else [])
    return WeightedLossTrainer(
        model=model,
        args=args,
        train_dataset=inputs.train,
        eval_dataset=inputs.validation,
        processing_class=processor,
        compute_metrics=trainer_metrics,
        callbacks=callbacks,
        class_weights=inputs.class_weights,
        label_smoothing=recipe.label_smoothing,
        time_budget=budget,
        soft_labels=recipe.labels == "ferplus",
        teacher=teacher,
        distillation_weight=recipe.distillation_weight,
    )


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
    `model_name` is an architecture of the registry (`cnn`: its own recipe) or a trained model's name
    (`sepnet.ferplus`: its architecture and the recipe it was trained with); `recipe_path` overrides the recipe.

    `labels` ("fer2013" or "ferplus", default: the recipe's) picks the training targets; "ferplus" needs `votes`,
    the FER+ votes file for the rows of `data`. With `votes`, metrics cover both label sets. Returns the metrics
    (metrics.json) on the main process, {} on the others of a multi-process run."""
    architecture, own_recipe = training_target(model_name)  # an unknown name fails before anything else
    output_dir = Path(output_dir)
    on_cpu = trains_on_cpu()
    recipe = run_recipe(architecture, recipe_path or own_recipe, labels, votes, on_cpu)
    check_training_limits(max_steps, time_budget_minutes)
    run = check_run_folder(output_dir, resume=resume, overwrite=overwrite)  # one run per folder, see run_folder
    args = _training_arguments(recipe, output_dir, max_steps, on_cpu, with_votes=votes is not None)
    set_seed(args.seed)

    dataset = load_splits(data, votes, args)
    model, processor = build_model(architecture, recipe, init_from)
    teacher = load_teacher(recipe, processor) if recipe.teacher else None
    inputs = model_inputs(dataset, processor, recipe, args.seed)
    run.claim(args.process_index == 0)
    budget = TimeBudget(time_budget_minutes) if time_budget_minutes else None
    trainer = build_trainer(model, processor, args, recipe, inputs, run, budget, teacher)
    started = time.monotonic()
    result = trainer.train(resume_from_checkpoint=run.resume_from)
    prediction = trainer.predict(inputs.validation)
    if not trainer.is_world_process_zero():
        _end_process_group()
        return {}

    save_checkpoint(trainer.model, processor, output_dir)
    summary = training_summary(
        recipe,
        trainer.state,
        args,
        result.training_loss,
        wall_seconds=time.monotonic() - started,
        time_budget_minutes=time_budget_minutes,
        stopped_by_time_budget=bool(budget and budget.expired),
        device="cpu" if on_cpu else torch.cuda.get_device_name(0),
    )
    metrics = run_metrics(architecture, data, votes, validation_scores(prediction, votes is not None), summary)
    write_report(output_dir, metrics, recipe, args, trainer.state.log_history)
    _end_process_group()
    return metrics


def _end_process_group() -> None:
    """In a multi-process run, wait until every process is here (the others for the main one's save), then close
    the process group: a process that exits with it open aborts ("terminate called without an active exception")."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
