"""Training recipes: YAML files, a full (GPU-grade) schedule plus CPU overrides. Each model's own recipe ships in
the package, in fer_hub/recipes/ (train/recipes/ in a checkout links there)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from ..data.augmentation import AugmentationConfig
from ..errors import FerHubError
from ..models.pretrained import pretrained_entry
from ..models.registry import model_entry

RECIPE_DIR = Path(__file__).resolve().parents[1] / "recipes"
BALANCING = ("none", "class_weights", "oversample", "undersample")
LABEL_SETS = ("fer2013", "ferplus")  # FER2013's single labels, or the FER+ crowd votes (needs a votes file)


@dataclass
class Recipe:
    model: str
    config: dict = field(default_factory=dict)  # model config overrides
    training: dict = field(default_factory=dict)  # transformers.TrainingArguments fields
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    labels: str = "fer2013"  # one of LABEL_SETS: what the loss compares the predictions with
    balancing: str = "class_weights"
    label_smoothing: float = 0.0
    early_stopping_patience: int = 10
    channels_last: bool = False  # NHWC weights: faster convolutions on CPU (oneDNN)
    teacher: str | None = None  # a trained model (name or folder) whose predictions the model also learns
    distillation_weight: float = 0.5  # the teacher's share of the loss (DeiT's hard distillation: 0.5)
    source: str = ""


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def default_recipe_path(model: str) -> Path:
    """The packaged recipe the registry names for `model`."""
    return RECIPE_DIR / f"{model_entry(model).recipe}.yaml"


def training_target(model: str) -> tuple[str, Path]:
    """The architecture `fer-hub train --model` builds and the recipe it follows by default: an architecture
    (`cnn`) with its own recipe, or a trained model's name (`sepnet.ferplus`) with the recipe that model was
    trained with."""
    if "." in model:
        entry = pretrained_entry(model)
        return entry.architecture, RECIPE_DIR / f"{entry.recipe}.yaml"
    return model_entry(model).name, default_recipe_path(model)


def _read_fields(path: Path, children: tuple[Path, ...] = ()) -> dict:
    """A recipe file's fields, over those of the recipe its `base:` names (a file beside it, else a packaged
    recipe of that name), recursively."""
    if not path.is_file():
        raise FerHubError(f"{path}: recipe not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise FerHubError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(raw, dict):
        raise FerHubError(f"{path}: a recipe is a mapping with at least a 'model' field")
    base = raw.pop("base", None)
    if base is None:
        return raw
    base_path = path.parent / str(base)
    if not base_path.is_file():
        base_path = RECIPE_DIR / str(base)
    if base_path.resolve() in (path.resolve(), *children):
        raise FerHubError(f"{path}: field 'base': {base} leads back to this recipe")
    return _merge(_read_fields(base_path, (*children, path.resolve())), raw)


def load_recipe(path: str | Path, on_cpu: bool) -> Recipe:
    """Read a recipe (over its `base:` recipe, if it names one); on a machine without a GPU its `cpu:` section
    overrides the rest."""
    path = Path(path)
    raw = _read_fields(path)
    if "model" not in raw:
        raise FerHubError(f"{path}: a recipe is a mapping with at least a 'model' field")
    cpu = raw.pop("cpu", {}) or {}
    if on_cpu:
        raw = _merge(raw, cpu)
    known = {f.name for f in fields(Recipe)} - {"source"}
    unknown = set(raw) - known
    if unknown:
        raise FerHubError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    try:
        augmentation = AugmentationConfig(**(raw.pop("augmentation", None) or {}))
    except TypeError as error:
        raise FerHubError(f"{path}: field 'augmentation': {error}") from None
    recipe = Recipe(**raw, augmentation=augmentation, source=str(path))
    if recipe.balancing not in BALANCING:
        raise FerHubError(f"{path}: field 'balancing' is {recipe.balancing!r}; expected one of {', '.join(BALANCING)}")
    if not 0.0 <= recipe.distillation_weight <= 1.0:
        raise FerHubError(f"{path}: field 'distillation_weight' is {recipe.distillation_weight!r}; expected 0 to 1")
    if recipe.labels not in LABEL_SETS:
        raise FerHubError(f"{path}: field 'labels' is {recipe.labels!r}; expected one of {', '.join(LABEL_SETS)}")
    return recipe
