"""`fer-hub card`: a model folder's Hub model card (README.md), rendered from the packaged template
with huggingface_hub's ModelCard, its metadata and tables filled from the folder's real metrics.json."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import torch
import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..checks import check_repo_id
from ..data.fer2013 import looks_like_hub_id
from ..errors import FerHubError
from ..labels import LABELS
from ..models.limits import check_config_limits
from ..models.pretrained import PRETRAINED, PretrainedModel, local_model_folder
from ..models.registry import entry_for_model_type

TEMPLATE = Path(__file__).resolve().parent / "model_card_template.md"
LICENSE = "apache-2.0"
# Neither FER2013 nor FER+ has an official Hub dataset (FER+ "microsoft/FERPlus" is a GitHub repository, not a Hub
# id), so a card lists a `datasets:` id only when the model was trained from a Hub dataset, and links the sources.
# These two are the model-index's dataset `type`s (free-form there: they link nowhere).
FER2013_DATASET_ID = "fer2013"
FERPLUS_DATASET_ID = "ferplus"
FER2013_URL = "https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge"
FERPLUS_URL = "https://github.com/microsoft/FERPlus"
TRANSFORMERS_REQUIREMENT = "transformers>=5.0,<6"  # the custom code imports `PreTrainedConfig` (transformers 5's name)
DEMO_SPACE = "fer-hub/fer-demo"  # the zoo's Space (`fer-hub push-space`): its example images are the widget's
WIDGET_EXAMPLES = (  # files of fer_hub/space/examples (48x48 FER2013 face crops: the model takes one face)
    ("fer2013_happy.png", "FER2013 face (happy)"),
    ("fer2013_surprise.png", "FER2013 face (surprise)"),
    ("fer2013_angry.png", "FER2013 face (angry)"),
)
BASE_MODELS = {"sepnet.ferplus": "sepnet.fer2013"}  # zoo model -> the zoo model it was fine-tuned from
PUBLIC_TEST = "PublicTest (the split the models were selected on)"
PRIVATE_TEST = "PrivateTest (held out, scored independently)"
SPLIT_NAMES = {"train": "Training", "validation": "PublicTest", "test": "PrivateTest, held out"}  # model-index names
TRAINING_LABELS = {  # metrics.json training.labels -> card wording
    "fer2013": "FER2013's single labels (cross-entropy)",
    "ferplus": "the FER+ vote distributions (soft-target cross-entropy; faces without a clear FER+ majority left out)",
}
FERPLUS_METRICS = ("n", "accuracy", "f1_macro", "per_class", "without_clear_majority")
TAGS = ["image-classification", "facial-expression-recognition", "emotion-recognition", "fer2013", "fer-hub"]
SPLITS = {
    "train": "FER2013 Training, the train split",
    "validation": "FER2013 PublicTest, the validation split",
    "test": "FER2013 PrivateTest, the test split",
}
REQUIRED_METRICS = ("split", "n", "accuracy", "f1_macro", "per_class", "confusion_matrix")
CONFUSION_IMAGES = ("confusion_matrix.png", "metrics_confusion_matrix.png")  # written by train / evaluate
TRAINING_FACTS = (  # metrics.json "training" key -> card wording
    ("epochs", "epochs"),
    ("steps", "optimizer steps"),
    ("device", "device"),
    ("processes", "processes"),
    ("wall_minutes_this_run", "wall-clock minutes (last run)"),
    ("averaged_from", "trained models whose weights are averaged (`train/average_weights.py`)"),
    ("batch_norm_faces", "training faces the batch-norm statistics are measured on"),
    ("stopped_by_time_budget", "stopped by the time budget"),
)
RECIPE_SETTINGS = ("balancing", "label_smoothing", "early_stopping_patience")
TRAINING_ARGUMENTS = (
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "warmup_ratio",
    "weight_decay",
    "optim",
    "seed",
)


def read_json(path: Path) -> dict:
    """A JSON object from `path`, or a FerHubError naming the file."""
    if not path.is_file():
        raise FerHubError(f"{path.parent}: no {path.name}")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FerHubError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise FerHubError(f"{path}: expected a JSON object")
    return value


def read_metrics(folder: Path) -> dict:
    """The folder's metrics.json, checked for the fields the card reports."""
    path = folder / "metrics.json"
    if not path.is_file():
        raise FerHubError(
            f"{folder}: no metrics.json, so the card would have no real scores; train with `fer-hub train`, or run "
            f"`fer-hub evaluate --model {folder} --data SOURCE --output {path}`"
        )
    metrics = read_json(path)
    missing = [key for key in REQUIRED_METRICS if key not in metrics]
    if missing:
        raise FerHubError(f"{path}: missing field(s) {', '.join(missing)}")
    if metrics["split"] not in SPLITS or sorted(metrics["per_class"]) != sorted(LABELS):
        raise FerHubError(
            f"{path}: expected a split in {', '.join(SPLITS)} and per-class scores for {', '.join(LABELS)}"
        )
    ferplus = metrics.get("ferplus_majority")
    if ferplus is not None and not (isinstance(ferplus, dict) and all(key in ferplus for key in FERPLUS_METRICS)):
        raise FerHubError(f"{path}: field 'ferplus_majority' needs {', '.join(FERPLUS_METRICS)}")
    return metrics


# config.json fields that say nothing about the architecture (labels, provenance, the code that loads it)
NOT_ARCHITECTURE = {
    "id2label",
    "label2id",
    "auto_map",
    "architectures",
    "transformers_version",
    "dtype",
    "_name_or_path",
    "custom_pipelines",
}


def _architecture(folder: Path) -> dict:
    config = read_json(folder / "config.json")
    entry = entry_for_model_type(config.get("model_type"))
    if entry is None:
        raise FerHubError(
            f"{folder / 'config.json'}: model_type {config.get('model_type')!r} is not a fer-hub architecture"
        )
    check_config_limits(config, str(folder / "config.json"))
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        model = entry.model_class(entry.config_class.from_pretrained(folder))
    shipped = entry.config_class(**entry.config_defaults).to_dict()  # the architecture as the zoo ships it
    compared = sorted(set(config) & set(shipped) - NOT_ARCHITECTURE)
    changed = [f"{key}={config[key]}" for key in compared if config[key] != shipped[key]]
    return {
        "zoo_name": entry.name,
        "description": entry.description + (f"; this model: {', '.join(changed)}" if changed else ""),
        "class_name": type(model).__name__,
        "model_type": entry.config_class.model_type,
        "parameters": model.num_parameters(),
        "custom_code": "auto_map" in config,
        "input_side": getattr(model.config, "image_size", 48),
    }


def _hyperparameters(folder: Path, entry: PretrainedModel | None) -> list[tuple[str, str]]:
    path = folder / "recipe.yaml"
    if not path.is_file():
        return []
    try:
        recipe = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise FerHubError(f"{path}: not valid YAML ({error})") from None
    training = recipe.get("training") or {}
    rows = [(key, training[key]) for key in TRAINING_ARGUMENTS if training.get(key) not in (None, "None", -1)]
    rows += [(key, recipe[key]) for key in RECIPE_SETTINGS if key in recipe]
    started_from = _started_from(folder)
    if started_from:
        weights = "the earlier weights" if entry and started_from == entry.name else "the weights"  # a further cycle
        rows.append(("started from", f"{weights} of {_model_reference(started_from)} (`--init-from`, command.txt)"))
    if recipe.get("teacher"):
        rows.append(
            (
                "teacher (hard distillation)",
                f"{_model_reference(recipe['teacher'])}, {recipe.get('distillation_weight')} of the loss",
            )
        )
    if recipe.get("augmentation"):
        rows.append(("augmentation", ", ".join(f"{key}={value}" for key, value in recipe["augmentation"].items())))
    if recipe.get("config"):
        rows.append(("model config overrides", ", ".join(f"{key}={value}" for key, value in recipe["config"].items())))
    return [(key, str(value)) for key, value in rows]


def _started_from(folder: Path) -> str | None:
    """The model whose weights the run started from: the `--init-from` of its first call in command.txt."""
    path = folder / "command.txt"  # `fer-hub train` appends each call of the run
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    try:
        words = shlex.split(lines[0]) if lines else []
    except ValueError:
        raise FerHubError(f"{path}: line 1: not a command line") from None
    for word, following in zip(words, [*words[1:], None]):
        if word == "--init-from":
            return following
        if word.startswith("--init-from="):
            return word.partition("=")[2]
    return None


def _model_reference(reference: str) -> str:
    """A teacher or start model as a card shows it: a name or Hub id as it is, a local folder by its name only."""
    path = Path(reference).expanduser()
    return f"the local folder {path.name}" if path.is_absolute() or reference.startswith(".") else reference


def _plain(value: object) -> object:
    if isinstance(value, list):
        return len(value)
    return {True: "yes", False: "no"}[value] if isinstance(value, bool) else value


def hub_dataset_id(data: str) -> str | None:
    """`data` when it names a Hub dataset (owner/name) rather than a local file or folder."""
    return data if "/" in data and not Path(data).exists() and looks_like_hub_id(data) else None


def zoo_entry(folder: Path) -> PretrainedModel | None:
    """The PRETRAINED entry whose weights are `folder` on this machine (the packaged default, `checkpoints/NAME`)."""
    resolved = folder.resolve()
    for entry in PRETRAINED.values():
        local = entry.local_folder
        if local is not None and local.resolve() == resolved:
            return entry
    return None


def private_test_scores(entry: PretrainedModel | None) -> dict | None:
    """A zoo model's held-out PrivateTest accuracies, {"accuracy", "ferplus_accuracy"} (the latter possibly None),
    or None when it has none."""
    scores = entry.scores if entry else {}
    if "privatetest_accuracy" not in scores:
        return None
    return {"accuracy": scores["privatetest_accuracy"], "ferplus_accuracy": scores.get("privatetest_ferplus_accuracy")}


def split_label(split: str) -> str:
    return {"validation": PUBLIC_TEST, "test": PRIVATE_TEST}.get(split, split)


def _eval_results(
    scores: dict, label_set: str, split: str, dataset_id: str, dataset_name: str, f1: bool = True
) -> list[EvalResult]:
    """Accuracy (and macro-F1) against one label set on one split, as model-index results."""
    common = {
        "task_type": "image-classification",
        "task_name": "Facial expression recognition",
        "dataset_type": dataset_id,
        "dataset_name": dataset_name,
        "dataset_split": split,
    }
    where = f"{label_set}, {SPLIT_NAMES.get(split, split)}"
    results = [
        EvalResult(
            metric_type="accuracy",
            metric_name=f"Accuracy ({where})",
            metric_value=round(scores["accuracy"], 4),
            **common,
        )
    ]
    if f1:
        results.append(
            EvalResult(
                metric_type="f1",
                metric_name=f"Macro F1 ({where})",
                metric_config="macro",
                metric_value=round(scores["f1_macro"], 4),
                **common,
            )
        )
    return results


def widget_examples() -> list[dict]:
    """Hub `widget:` entries: the Space's example face crops, by their resolvable URLs."""
    base = f"https://huggingface.co/spaces/{DEMO_SPACE}/resolve/main/examples"
    return [{"src": f"{base}/{name}", "example_title": title} for name, title in WIDGET_EXAMPLES]


def _card_data(
    metrics: dict,
    repo_id: str,
    hub_dataset: str | None,
    architecture: dict,
    private: dict | None,
    base_model: str | None,
) -> ModelCardData:
    ferplus = metrics.get("ferplus_majority")
    dataset_id = hub_dataset or FER2013_DATASET_ID
    results = _eval_results(metrics, "FER2013 labels", metrics["split"], dataset_id, "FER2013")
    if ferplus:
        results += _eval_results(ferplus, "FER+ majority", metrics["split"], FERPLUS_DATASET_ID, "FER+ (majority vote)")
    if private and metrics["split"] != "test":
        results += _eval_results(private, "FER2013 labels", "test", dataset_id, "FER2013", f1=False)
        if private["ferplus_accuracy"] is not None:
            results += _eval_results(
                {"accuracy": private["ferplus_accuracy"]},
                "FER+ majority",
                "test",
                FERPLUS_DATASET_ID,
                "FER+ (majority vote)",
                f1=False,
            )
    custom = ["custom_code"] if architecture["custom_code"] else []
    return ModelCardData(
        model_name=repo_id.split("/")[-1],
        license=LICENSE,
        library_name="transformers",
        pipeline_tag="image-classification",
        base_model=base_model,
        datasets=[hub_dataset] if hub_dataset else None,
        metrics=["accuracy", "f1"],
        tags=TAGS + [architecture["zoo_name"]] + (["ferplus"] if ferplus else []) + custom,
        widget=widget_examples(),
        eval_results=results,
    )


def render_model_card(model_dir: str | Path, repo_id: str | None = None) -> ModelCard:
    """The model card for a trained folder; `repo_id` goes into the usage snippets (a placeholder if None)."""
    if repo_id is not None:
        check_repo_id(repo_id)
    folder = local_model_folder(model_dir)
    metrics = read_metrics(folder)
    architecture = _architecture(folder)
    repo_id = repo_id or f"YOUR_USERNAME/fer-{architecture['zoo_name']}"
    data = str(metrics.get("data", ""))
    dataset_id = hub_dataset_id(data)
    training = metrics.get("training") or {}
    votes = f" and the FER+ votes `{Path(metrics['votes']).name}` ([FER+]({FERPLUS_URL}))" if "votes" in metrics else ""
    entry = zoo_entry(folder)
    private = private_test_scores(entry)
    base = BASE_MODELS.get(entry.name) if entry else None
    label_set = training.get("labels")
    trained_on = [("training labels", TRAINING_LABELS.get(label_set, label_set))] if label_set else []
    return ModelCard.from_template(
        _card_data(metrics, repo_id, dataset_id, architecture, private, base and PRETRAINED[base].hub_id),
        template_path=TEMPLATE,
        repo_id=repo_id,
        labels=LABELS,
        architecture=architecture,
        input_side=architecture["input_side"],
        accuracy=metrics["accuracy"],
        f1_macro=metrics["f1_macro"],
        n=metrics["n"],
        split_name=metrics["split"],
        split_description=SPLITS[metrics["split"]],
        split_label=split_label(metrics["split"]),
        private=private if metrics["split"] != "test" else None,
        zoo_name=entry.name if entry else None,
        base_model=base and PRETRAINED[base].hub_id,
        transformers_requirement=TRANSFORMERS_REQUIREMENT,
        demo_space=DEMO_SPACE,
        fer2013_url=FER2013_URL,
        ferplus_url=FERPLUS_URL,
        data_source=(
            f"the Hub dataset `{dataset_id}`"
            if dataset_id
            else f"[FER2013]({FER2013_URL}) from the local file or folder `{Path(data).name}`"
        )
        + votes,
        training=trained_on + [(label, _plain(training[key])) for key, label in TRAINING_FACTS if key in training],
        ferplus=metrics.get("ferplus_majority"),
        hyperparameters=_hyperparameters(folder, entry),
        per_class=[(name, metrics["per_class"][name]) for name in LABELS],
        confusion_rows=list(zip(LABELS, metrics["confusion_matrix"])),
        confusion_image=next((name for name in CONFUSION_IMAGES if (folder / name).is_file()), None),
    )


def write_model_card(model_dir: str | Path, repo_id: str | None = None) -> Path:
    """Write the model card into the folder as README.md; returns its path."""
    path = local_model_folder(model_dir) / "README.md"
    render_model_card(model_dir, repo_id).save(path)
    return path
