"""The one namespace of trained models, timm-style `architecture.tag` (`sepnet.ferplus`, `cnn.fer2013`, ...).

Each entry says what the model is (its registry architecture and the label set it learned), where its weights are
(the folder packaged in fer_hub, a `checkpoints/` folder of a source checkout, and always a Hub repo id) and how it
was made (its recipe, its run's records under `train/results/`). Its scores are read from `pretrained_scores.json`
beside this module, which `train/results_table.py` writes from the committed metrics files.

A name resolves to the first place that has the weights: the packaged folder, then `checkpoints/NAME` (or
`$FER_HUB_CHECKPOINTS/NAME`), then the Hub repo (an installed wheel has no `checkpoints/`). Importing this module is
instant: no torch, no transformers.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import FerHubError
from .registry import MODELS

PACKAGE_DIR = Path(__file__).resolve().parents[1]
SOURCE_ROOT = PACKAGE_DIR.parent  # the repository root when fer_hub runs from a source checkout
CHECKPOINTS_VARIABLE = "FER_HUB_CHECKPOINTS"
HUB_OWNER = "fer-hub"  # the Hub organisation the zoo is published under (`fer-hub push --repo-id fer-hub/NAME`)
SCORES_FILE = Path(__file__).resolve().parent / "pretrained_scores.json"
DEFAULT_MODEL = "sepnet.ferplus"
DEFAULT_MODEL_DIR = PACKAGE_DIR / "default_model"  # its packaged folder


@dataclass(frozen=True)
class PretrainedModel:
    """A trained model of the zoo. `packaged` names its folder inside fer_hub (the embedded default); `results`
    its run's folder under `train/results/`; `recipe` the recipe (fer_hub/recipes/RECIPE.yaml) it was trained with."""

    name: str
    description: str
    recipe: str
    results: str
    packaged: str | None = None

    @property
    def architecture(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def labels(self) -> str:
        """The label set it learned: "fer2013" (FER2013's labels) or "ferplus" (the FER+ vote distributions)."""
        return self.name.split(".", 1)[1]

    @property
    def hub_id(self) -> str:
        return f"{HUB_OWNER}/{self.name}"

    @property
    def local_folder(self) -> Path | None:
        """The folder holding its weights on this machine (packaged, or a checkout's `checkpoints/`), if any."""
        if self.packaged:
            return PACKAGE_DIR / self.packaged
        checkpoints = checkpoints_dir()
        if checkpoints is not None and (checkpoints / self.name / "config.json").is_file():
            return checkpoints / self.name
        return None

    @property
    def location(self) -> str:
        """Where `from_pretrained` finds it here: its local folder, else its Hub repo id."""
        folder = self.local_folder
        return str(folder) if folder else self.hub_id

    @property
    def scores(self) -> dict:
        """Its committed scores (see `train/results_table.py`): PublicTest accuracy on FER2013's labels and on the
        FER+ majority, and the held-out PrivateTest accuracy where its committed predictions were scored."""
        return _scores().get(self.name, {})


PRETRAINED: dict[str, PretrainedModel] = {
    entry.name: entry
    for entry in (
        PretrainedModel(
            "sepnet.ferplus",
            "the default: compact SepNet fine-tuned on the FER+ crowd votes",
            recipe="sepnet-ferplus",
            results="sepnet-ferplus",
            packaged="default_model",
        ),
        PretrainedModel("sepnet.fer2013", "compact SepNet on FER2013's labels", recipe="sepnet", results="sepnet"),
        PretrainedModel("cnn.fer2013", "the study's CNN", recipe="cnn", results="cnn"),
        PretrainedModel("rnn.fer2013", "the study's BiLSTM over pixel rows", recipe="rnn", results="rnn"),
        PretrainedModel(
            "vgg16.fer2013",
            "VGG16-BN from scratch: the average of its last three cosine cycles' weights (CPU runs)",
            recipe="vgg16-continued",
            results="vgg16",
        ),
        PretrainedModel(
            "resnet101.fer2013",
            "ResNet-101 from scratch, two cosine cycles (CPU runs)",
            recipe="resnet101-continued",
            results="resnet101",
        ),
        PretrainedModel(
            "vit.fer2013",
            "ViT over a convolutional stem, distilled from sepnet.fer2013 (CPU run)",
            recipe="vit-distilled",
            results="vit",
        ),
    )
}
assert all(entry.architecture in MODELS for entry in PRETRAINED.values())

# The names used before `architecture.tag`: they keep working, with a note, until fer-hub 0.3.
OLD_NAMES = {
    "default": "sepnet.ferplus",
    "sepnet-ferplus": "sepnet.ferplus",
    "sepnet": "sepnet.fer2013",
    "cnn": "cnn.fer2013",
    "rnn": "rnn.fer2013",
    "vit": "vit.fer2013",
}


def checkpoints_dir() -> Path | None:
    """$FER_HUB_CHECKPOINTS if set, else `checkpoints/` of the source checkout fer_hub runs from; None for an
    installed wheel without the variable."""
    if os.environ.get(CHECKPOINTS_VARIABLE):
        return Path(os.environ[CHECKPOINTS_VARIABLE])
    return SOURCE_ROOT / "checkpoints" if (SOURCE_ROOT / "pyproject.toml").is_file() else None


@cache
def _scores() -> dict:
    return json.loads(SCORES_FILE.read_text(encoding="utf-8"))


def list_pretrained() -> list[str]:
    """The trained models' names, the default first."""
    return list(PRETRAINED)


_NOTED: set[str] = set()  # old names already noted in this process


def pretrained_entry(name: str) -> PretrainedModel:
    """The entry for a name (or an old name, with a note on stderr, once); a FerHubError listing the names
    otherwise."""
    if name in OLD_NAMES:
        new = OLD_NAMES[name]
        if name not in _NOTED:
            _NOTED.add(name)
            print(f"note: model name {name!r} is now {new!r}; the old name works until fer-hub 0.3", file=sys.stderr)
        name = new
    if name not in PRETRAINED:
        raise FerHubError(f"unknown model name {name!r}; trained models: {', '.join(PRETRAINED)}")
    return PRETRAINED[name]


def resolve_model(reference: str | Path | None) -> str:
    """Where a model reference points: an existing file or folder as it is; None or a trained-model name
    (`sepnet.ferplus`, see `fer_hub.models.pretrained`) its weights' folder here, else its Hub repo id; anything
    else with a slash a Hub repo id (`owner/name`). A name the zoo does not have is an error listing those it has,
    answered at once (never a Hub lookup)."""
    if reference is None:
        return pretrained_entry(DEFAULT_MODEL).location
    reference = str(reference)
    if Path(reference).exists():
        return reference
    if reference.endswith(".onnx"):
        raise FerHubError(f"{reference}: no such ONNX file")
    if reference.startswith((".", "~")):
        raise FerHubError(f"{reference}: no such model folder or .onnx file")
    if "/" not in reference and os.sep not in reference:
        return pretrained_entry(reference).location
    return reference


def model_name(reference: str | Path | None) -> str:
    """What to call the model a reference names: its trained-model name, else the reference as given."""
    if reference is None:
        return DEFAULT_MODEL
    reference = str(reference)
    if Path(reference).exists() or "/" in reference or os.sep in reference:
        return reference
    return pretrained_entry(reference).name


def local_model_folder(reference: str | Path) -> Path:
    """The folder on this machine a model folder path or trained-model name points to (for commands that read a
    folder's files: push, card)."""
    location = resolve_model(reference)
    if Path(location).is_dir():
        return Path(location)
    elsewhere = f" (its weights are in the Hub repo {location})" if location != str(reference) else ""
    raise FerHubError(f"{reference}: not a model folder on this machine{elsewhere}")


def pretrained_table() -> str:
    """The trained models as a text table: name, architecture, labels, scores, where the weights are."""
    header = (
        "name",
        "architecture",
        "labels",
        "PublicTest",
        "PublicTest FER+",
        "PrivateTest",
        "PrivateTest FER+",
        "weights",
    )
    rows = [header]
    for entry in PRETRAINED.values():
        scores = entry.scores
        rows.append(
            (
                entry.name,
                entry.architecture,
                "FER+ votes" if entry.labels == "ferplus" else "FER2013",
                _figure(scores.get("publictest_accuracy")),
                _figure(scores.get("publictest_ferplus_accuracy")),
                _figure(scores.get("privatetest_accuracy")),
                _figure(scores.get("privatetest_ferplus_accuracy")),
                _where(entry),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    note = (
        "Accuracy on PublicTest (the split models were selected on) and on PrivateTest (held out, scored "
        "independently from the committed predictions), each against FER2013's labels and the FER+ majority."
    )
    return "\n".join([*lines, "", note])


def _figure(value: float | None) -> str:
    return f"{value:.4f}" if value is not None else "-"


def _where(entry: PretrainedModel) -> str:
    folder = entry.local_folder
    if folder is None:
        return f"hub {entry.hub_id}"
    try:
        return str(folder.relative_to(Path.cwd()))
    except ValueError:
        return str(folder)
