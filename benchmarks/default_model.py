"""The embedded default model: PublicTest (validation) accuracy and macro-F1, ONNX agreement, and
single-face latency (batch 1, one thread) in PyTorch and ONNX Runtime (fp32 and int8); with flip
test-time augmentation (the face and its mirror, batch 2, logits averaged) too.

    python benchmarks/default_model.py [--model DIR] [--runs 300]

Writes benchmarks/results/default_model.json and .md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from results_io import write_report
import torch
from sklearn.metrics import accuracy_score, f1_score

from fer_hub import load_fer2013
from fer_hub.onnx_export import export_onnx
from fer_hub.onnx_runtime import load_onnx
from fer_hub.zoo import DEFAULT_MODEL_DIR, load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
SHARED_CSV = ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.csv.gz"
RESULTS = Path(__file__).resolve().parent / "results"


def milliseconds(run, pixel_values: np.ndarray, runs: int) -> dict:
    for _ in range(20):
        run(pixel_values)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run(pixel_values)
        times.append(1000 * (time.perf_counter() - started))
    return {"median_ms": statistics.median(times), "p95_ms": float(np.percentile(times, 95))}


def with_flip(run):
    """`run` on the faces and their mirror images, logits averaged (flip test-time augmentation)."""

    def flipped_too(pixel_values: np.ndarray) -> np.ndarray:
        logits = np.asarray(run(np.ascontiguousarray(np.concatenate([pixel_values, pixel_values[..., ::-1]]))))
        return (logits[: len(pixel_values)] + logits[len(pixel_values) :]) / 2

    return flipped_too


def scores(labels: np.ndarray, logits: np.ndarray) -> dict:
    predictions = logits.argmax(1)
    return {"accuracy": float(accuracy_score(labels, predictions)),
            "f1_macro": float(f1_score(labels, predictions, average="macro"))}


def markdown(report: dict) -> str:
    lines = [
        "# Default model benchmark",
        "",
        f"Model `{report['model']}` ({report['params']:,} parameters); {report['machine']}.",
        f"Data: {report['data']} ({report['n']} faces, FER2013 PublicTest).",
        "",
        "| runtime | accuracy | macro-F1 | top-1 agreement with PyTorch | latency median (batch 1, 1 thread) | p95 |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in report["runtimes"].items():
        agreement = f"{row['agreement']:.4f}" if "agreement" in row else "-"
        lines.append(f"| {name} | {row['accuracy']:.4f} | {row['f1_macro']:.4f} | {agreement} | "
                     f"{row['median_ms']:.2f} ms | {row['p95_ms']:.2f} ms |")
    return "\n".join(lines + ["", report["note"], ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    parser.add_argument("--data", default=str(SHARED_CSV))
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--note", default="")
    parser.add_argument("--output", type=Path, default=RESULTS / "default_model.json")
    args = parser.parse_args()

    validation = load_fer2013(args.data)["validation"]
    labels = np.asarray(validation["label"])
    model, processor = load_checkpoint(args.model)
    pixels = np.asarray(processor(list(validation["image"]), return_tensors="np")["pixel_values"], dtype=np.float32)
    one_face = pixels[:1]

    torch.set_num_threads(1)
    with torch.inference_mode():
        torch_logits = np.concatenate([model(pixel_values=torch.from_numpy(chunk)).logits.numpy()
                                       for chunk in np.array_split(pixels, 16)])
        torch_run = lambda x: model(pixel_values=torch.from_numpy(x)).logits.numpy()  # noqa: E731
        runtimes = {"PyTorch fp32": {**scores(labels, torch_logits), **milliseconds(torch_run, one_face, args.runs)}}
        flip_logits = np.concatenate([with_flip(torch_run)(chunk) for chunk in np.array_split(pixels, 16)])
        runtimes["PyTorch fp32 + flip TTA"] = {**scores(labels, flip_logits), **milliseconds(with_flip(torch_run), one_face, args.runs)}
    with tempfile.TemporaryDirectory() as folder:
        for name, int8 in (("ONNX Runtime fp32", False), ("ONNX Runtime int8", True)):
            path = export_onnx(args.model, Path(folder) / f"model{'-int8' if int8 else ''}.onnx", int8=int8)
            classifier, _ = load_onnx(path, threads=1)
            logits = classifier(pixels)
            runtimes[name] = {**scores(labels, logits), "agreement": float((logits.argmax(1) == torch_logits.argmax(1)).mean()),
                              **milliseconds(classifier, one_face, args.runs), "file_bytes": path.stat().st_size}
            if not int8:
                runtimes[f"{name} + flip TTA"] = {**scores(labels, with_flip(classifier)(pixels)),
                                                  **milliseconds(with_flip(classifier), one_face, args.runs)}
    report = {
        "model": str(Path(args.model).relative_to(ROOT) if Path(args.model).is_relative_to(ROOT) else args.model),
        "params": sum(p.numel() for p in model.parameters()),
        "machine": f"{platform.machine()} CPU, one thread",
        "data": Path(args.data).name, "n": len(labels), "note": args.note, "runtimes": runtimes,
    }
    for name, row in runtimes.items():
        print(f"{name}: accuracy {row['accuracy']:.4f} macro-F1 {row['f1_macro']:.4f} "
              f"latency {row['median_ms']:.2f} ms (p95 {row['p95_ms']:.2f})")
    write_report(report, args.output, markdown)


if __name__ == "__main__":
    main()
