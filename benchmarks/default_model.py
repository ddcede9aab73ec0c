"""The embedded default model: PublicTest (validation) accuracy and macro-F1, ONNX agreement, and
single-face latency (batch 1, one thread) in PyTorch and ONNX Runtime (fp32 and int8); with flip
test-time augmentation (the face and its mirror, batch 2, logits averaged) too.

    python benchmarks/default_model.py [--model DIR] [--runs 300]

Writes benchmarks/results/default_model.json and .md.
"""

from __future__ import annotations

import os

# one thread everywhere: torch, and no idle OpenMP pool beside ONNX Runtime
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from results_io import write_report

from fer_hub import load_fer2013
from fer_hub.evaluation.metrics import label_set_reports
from fer_hub.evaluation.predictions import predict_split
from fer_hub.inference.classifier import ModelClassifier, load_model_classifier
from fer_hub.inference.onnx_runtime import load_onnx
from fer_hub.models.onnx_export import export_onnx
from fer_hub.models.pretrained import DEFAULT_MODEL_DIR, resolve_model

ROOT = Path(__file__).resolve().parents[1]
SHARED_CSV = ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.csv.gz"
SHARED_VOTES = ROOT.parent / "shared" / "datasets" / "ferplus" / "ferplus-votes-train-publictest.csv.gz"
RESULTS = Path(__file__).resolve().parent / "results"


def milliseconds(classifier: ModelClassifier, pixel_values: np.ndarray, tta: bool, runs: int) -> dict:
    """Latency of the classification path on already-processed faces (the forward pass(es) and the softmax)."""
    for _ in range(20):
        classifier.pixel_probabilities(pixel_values, tta)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        classifier.pixel_probabilities(pixel_values, tta)
        times.append(1000 * (time.perf_counter() - started))
    return {"median_ms": statistics.median(times), "p95_ms": float(np.percentile(times, 95))}


def scores(labels: np.ndarray, ferplus_labels: np.ndarray, predictions: np.ndarray) -> dict:
    """Accuracy and macro-F1 against the FER2013 labels and against the FER+ majority (faces that have one)."""
    reports = label_set_reports(predictions, labels, ferplus_labels)
    ferplus = reports["ferplus_majority"]
    return {
        "accuracy": reports["accuracy"],
        "f1_macro": reports["f1_macro"],
        "ferplus_accuracy": ferplus["accuracy"],
        "ferplus_f1_macro": ferplus["f1_macro"],
    }


def markdown(report: dict) -> str:
    lines = [
        "# Default model benchmark",
        "",
        f"Model `{report['model']}` ({report['params']:,} parameters); {report['machine']}.",
        f"Data: {report['data']} ({report['n']} faces, FER2013 PublicTest), FER+ votes {report['votes']}.",
        "",
        "| runtime | FER2013 accuracy | macro-F1 | FER+ majority accuracy | macro-F1 | top-1 agreement with PyTorch "
        "| latency median (batch 1, 1 thread) | p95 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in report["runtimes"].items():
        agreement = f"{row['agreement']:.4f}" if "agreement" in row else "-"
        lines.append(
            f"| {name} | {row['accuracy']:.4f} | {row['f1_macro']:.4f} | {row.get('ferplus_accuracy', float('nan')):.4f} "
            f"| {row.get('ferplus_f1_macro', float('nan')):.4f} | {agreement} | "
            f"{row['median_ms']:.2f} ms | {row['p95_ms']:.2f} ms |"
        )
    return "\n".join([*lines, "", report["note"], ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="model folder or checkpoint name")
    parser.add_argument("--data", default=str(SHARED_CSV))
    parser.add_argument("--votes", default=str(SHARED_VOTES), help="FER+ votes aligned with --data")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--note", default="")
    parser.add_argument("--output", type=Path, default=RESULTS / "default_model.json")
    args = parser.parse_args()

    validation = load_fer2013(args.data, votes=args.votes)["validation"]
    labels, ferplus_labels = np.asarray(validation["label"]), np.asarray(validation["ferplus_label"])
    torch.set_num_threads(1)
    pytorch = load_model_classifier(args.model, bundled=False)
    one_face = pytorch.pixel_values([validation[0]["image"]])

    def measure(classifier: ModelClassifier, tta: bool) -> tuple[np.ndarray, dict]:
        predictions = predict_split(classifier, validation, tta=tta).argmax(1)
        return predictions, {
            **scores(labels, ferplus_labels, predictions),
            **milliseconds(classifier, one_face, tta, args.runs),
        }

    runtimes = {}
    torch_predictions, runtimes["PyTorch fp32"] = measure(pytorch, tta=False)
    runtimes["PyTorch fp32 + flip TTA"] = measure(pytorch, tta=True)[1]
    with tempfile.TemporaryDirectory() as folder:
        for name, int8 in (("ONNX Runtime fp32", False), ("ONNX Runtime int8", True)):
            output = Path(folder) / f"model{'-int8' if int8 else ''}.onnx"
            path = export_onnx(resolve_model(args.model), output, int8=int8, data=args.data if int8 else None).path
            onnx = ModelClassifier(*load_onnx(path, threads=1), name=name)
            predictions, runtimes[name] = measure(onnx, tta=False)
            runtimes[name].update(
                agreement=float((predictions == torch_predictions).mean()), file_bytes=path.stat().st_size
            )
            if not int8:
                runtimes[f"{name} + flip TTA"] = measure(onnx, tta=True)[1]
    report = {
        "model": str(Path(args.model).relative_to(ROOT) if Path(args.model).is_relative_to(ROOT) else args.model),
        "params": pytorch.logits.parameters,
        "machine": f"{platform.machine()} CPU, one thread",
        "data": Path(args.data).name,
        "votes": Path(args.votes).name,
        "n": len(labels),
        "note": args.note,
        "runtimes": runtimes,
    }
    for name, row in runtimes.items():
        print(
            f"{name}: accuracy {row['accuracy']:.4f} macro-F1 {row['f1_macro']:.4f} "
            f"FER+ majority accuracy {row['ferplus_accuracy']:.4f} "
            f"latency {row['median_ms']:.2f} ms (p95 {row['p95_ms']:.2f})"
        )
    write_report(report, args.output, markdown)


if __name__ == "__main__":
    main()
