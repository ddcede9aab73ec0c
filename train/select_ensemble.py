"""Choose the zoo's ensemble on FER2013 PublicTest alone: every set of two or more of the trained FER2013-label models,
scored as `--model A --model B` classifies (the mean of the members' probabilities, each model's own weights, no TTA).

    python train/select_ensemble.py --data ../shared/datasets/fer2013/fer2013-train-publictest.csv.gz

Writes every set's PublicTest accuracy, best first, to train/results/ensemble/selection.json and prints the top ten.
The held-out faces take no part: the chosen set's PrivateTest predictions are made afterwards with `predict-data`.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "train" / "results" / "ensemble" / "selection.json"


def candidates() -> list[str]:
    """The trained models whose labels are FER2013's own (`.fer2013`), in the zoo's order."""
    from fer_hub.models.pretrained import list_pretrained

    return [name for name in list_pretrained() if name.endswith(".fer2013")]


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return round(float((probabilities.argmax(1) == labels).mean()), 4)


def ranked_sets(probabilities: dict[str, np.ndarray], labels: np.ndarray) -> list[dict]:
    """Every set of two or more models with its PublicTest accuracy, best first (ties: fewer models first)."""
    scored = []
    for size in range(2, len(probabilities) + 1):
        for members in itertools.combinations(probabilities, size):
            mean = np.mean([probabilities[name] for name in members], axis=0)
            scored.append({"models": list(members), "accuracy": accuracy(mean, labels)})
    return sorted(scored, key=lambda entry: (-entry["accuracy"], len(entry["models"])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="FER2013 Kaggle CSV with its PublicTest rows")
    args = parser.parse_args()
    from fer_hub.data.fer2013 import dataset_split, load_fer2013
    from fer_hub.inference.classifier import load_model_classifier

    public_test = dataset_split(load_fer2013(args.data), "validation", args.data)
    labels = np.array(public_test["label"])
    probabilities, single = {}, {}
    for name in candidates():
        probabilities[name] = load_model_classifier(name, bundled=False).probabilities(public_test["image"])
        single[name] = accuracy(probabilities[name], labels)
        print(f"{name}: PublicTest accuracy {single[name]:.4f}", flush=True)
    ranking = ranked_sets(probabilities, labels)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps({"split": "validation (PublicTest)", "models": single, "sets": ranking}, indent=1))
    for entry in ranking[:10]:
        print(f"{entry['accuracy']:.4f}  {' + '.join(entry['models'])}")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
