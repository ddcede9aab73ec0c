"""What the demo's model panel says about a model: the labels it learned from, its PublicTest scores (from the
`metrics.json` that `fer-hub train` writes beside the weights), its size, and how long it takes to classify a face."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import hf_hub_download
from PIL import Image

from ..inference.classifier import Classifier, ModelClassifier
from ..models.pretrained import resolve_model

LABEL_SETS = {  # metrics.json training.labels -> what the model learned from, in words
    "fer2013": "FER2013 labels (one label a face, from the dataset)",
    "ferplus": "FER+ votes (ten annotators a face, Barsoum et al. 2016)",
}
SPLITS = {"validation": "PublicTest", "test": "PrivateTest", "train": "Training"}


@dataclass(frozen=True)
class ModelFacts:
    """One model's facts; None where its folder does not say (e.g. no metrics.json) or they cannot be counted."""

    name: str
    architecture: str | None = None
    labels: str | None = None  # a LABEL_SETS key
    split: str | None = None  # a SPLITS key: where the scores were measured
    faces: int | None = None
    accuracy: float | None = None  # against the FER2013 labels
    f1_macro: float | None = None
    ferplus_accuracy: float | None = None  # against the FER+ majority, on the faces that have a clear one
    ferplus_f1_macro: float | None = None
    parameters: int | None = None

    def markdown(self) -> str:
        """One line: the model, what it learned from, its scores, its size."""
        parts = [f"**{self.name}**" + (f" ({self.architecture})" if self.architecture else "")]
        if self.labels:
            parts.append(f"trained on {LABEL_SETS.get(self.labels, self.labels)}")
        if self.accuracy is not None:
            where = SPLITS.get(self.split, self.split) + (f", {self.faces:,} faces" if self.faces else "")
            scores = f"{where}: accuracy **{self.accuracy:.3f}**, macro-F1 **{self.f1_macro:.3f}** (FER2013 labels)"
            if self.ferplus_accuracy is not None:
                scores += (
                    f"; **{self.ferplus_accuracy:.3f}** / **{self.ferplus_f1_macro:.3f}** against the FER+ majority"
                )
            parts.append(scores)
        else:
            parts.append("no metrics.json with its scores")
        if self.parameters:
            parts.append(f"{self.parameters / 1e6:.2f}M parameters")
        return " · ".join(parts)


def read_model_metrics(reference: str | Path | None) -> dict | None:
    """The metrics.json of a model folder, of the folder holding a `.onnx` file, or of a Hub model repo; None if
    there is none or it cannot be read."""
    location = Path(resolve_model(reference))
    try:
        if location.is_dir() or location.is_file():
            path = (location if location.is_dir() else location.parent) / "metrics.json"
        else:  # a Hub repo id: the model itself came from there
            path = Path(hf_hub_download(str(location), "metrics.json"))
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except Exception:  # missing file, network, malformed JSON: the panel then says it has no scores
        return None
    return metrics if isinstance(metrics, dict) else None


def model_facts(reference: str | Path | None, classifier: ModelClassifier) -> ModelFacts:
    """The facts about one loaded model (`classifier`) named `reference`."""
    metrics = read_model_metrics(reference) or {}
    ferplus = metrics.get("ferplus_majority") or {}
    return ModelFacts(
        name=classifier.name,
        architecture=metrics.get("model"),
        labels=(metrics.get("training") or {}).get("labels", "fer2013") if metrics else None,
        split=metrics.get("split"),
        faces=metrics.get("n"),
        accuracy=metrics.get("accuracy"),
        f1_macro=metrics.get("f1_macro"),
        ferplus_accuracy=ferplus.get("accuracy"),
        ferplus_f1_macro=ferplus.get("f1_macro"),
        parameters=getattr(classifier.logits, "parameters", None),
    )


def latency_ms(classifier: Classifier, repeats: int = 15) -> float:
    """Median milliseconds to classify one face (a 48x48 image, no test-time flip), after two warm-up calls."""
    face = [Image.new("L", (48, 48), 128)]
    timings = []
    for index in range(repeats + 2):
        start = time.perf_counter()
        classifier.probabilities(face)
        if index >= 2:
            timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)
