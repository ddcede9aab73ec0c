"""Training images/s per model on this machine: the fer-hub Trainer pipeline (dataset, on-the-fly
augmentation and processing as the model's recipe sets them, class-weighted loss, Trainer bookkeeping)
against a bare PyTorch loop with the same model, batch size (the recipe's CPU batch unless --batch),
thread count and optimizer (AdamW, fused, as
Trainer's default): a shuffled DataLoader over the same faces as ready-made tensors, no augmentation.

The two run in lockstep in one process: after each Trainer step, one bare step (a Trainer callback). This
machine's speed swings by up to 2x within seconds (a shared host), which separate runs cannot cancel;
interleaved steps see the same machine, so their ratio holds.

    python benchmarks/train_throughput.py [--models cnn rnn] [--steps 12] [--min-seconds 8] [--warmup 3] [--batch N]

Each model runs at least --steps steps, more for the fast ones so the timed Trainer steps last about
--min-seconds (a short bare run first measures the speed).
Writes benchmarks/results/train_throughput.json and .md.
"""

from __future__ import annotations

import argparse
import math
import platform
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset
from results_io import write_report
from transformers import TrainerCallback, TrainingArguments

from fer_hub import create_model, image_processor_for, list_models, load_fer2013
from fer_hub.recipes import default_recipe_path, load_recipe
from fer_hub.training import TRAINER_DEFAULTS, WeightedLossTrainer, class_weights, with_transform

ROOT = Path(__file__).resolve().parents[1]
SHARED_CSV = ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.csv.gz"
FIXTURE = ROOT / "tests" / "fixtures" / "fer2013_tiny.csv.gz"
RESULTS = Path(__file__).resolve().parent / "results"


class BareLoop:
    """A hand-written training loop: shuffled ready-made tensors, forward, backward, clip, AdamW."""

    def __init__(self, name: str, faces, batch: int):
        self.model = create_model(name).train()
        served = with_transform(faces, image_processor_for(self.model), None)[:]
        dataset = TensorDataset(served["pixel_values"], served["labels"])
        self.loader = DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True)
        self.batches = iter(self.loader)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4, fused=True)

    def step(self) -> None:
        try:
            pixel_values, labels = next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            pixel_values, labels = next(self.batches)
        loss = self.model(pixel_values=pixel_values, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad()


class Lockstep(TrainerCallback):
    """After each Trainer step, one bare step; both are timed after the warmup steps."""

    def __init__(self, bare: BareLoop, warmup: int):
        self.bare, self.warmup = bare, warmup
        self.trainer_seconds = self.bare_seconds = 0.0
        self.resumed = None  # when the Trainer got the machine back after the last bare step

    def on_step_end(self, args, state, control, **kwargs):
        ended = time.perf_counter()
        timed = state.global_step > self.warmup
        if timed:
            self.trainer_seconds += ended - self.resumed
        self.bare.step()
        self.resumed = time.perf_counter()
        if timed:
            self.bare_seconds += self.resumed - ended


def first_faces(train_split, steps: int, batch: int):
    return train_split.select(range(min(len(train_split), (steps + 1) * batch)))


def lockstep_images_per_second(name: str, train_split, steps: int, warmup: int, batch: int) -> tuple[float, float]:
    """(Trainer, bare) images/s over the same `steps`, interleaved step by step."""
    recipe = load_recipe(default_recipe_path(name), on_cpu=True)
    faces = first_faces(train_split, steps, batch)
    model = create_model(name)
    weights = class_weights(faces["label"]) if recipe.balancing == "class_weights" else None
    served = with_transform(faces, image_processor_for(model), recipe.augmentation)
    lockstep = Lockstep(BareLoop(name, faces, batch), warmup)
    with tempfile.TemporaryDirectory() as folder:
        settings = {**TRAINER_DEFAULTS, "eval_strategy": "no", "save_strategy": "no", "load_best_model_at_end": False,
                    "logging_strategy": "no", "disable_tqdm": True}
        args = TrainingArguments(output_dir=folder, max_steps=steps, per_device_train_batch_size=batch, use_cpu=True,
                                 **settings)
        WeightedLossTrainer(model=model, args=args, train_dataset=served, callbacks=[lockstep], class_weights=weights).train()
    images = (steps - warmup) * batch
    return images / lockstep.trainer_seconds, images / lockstep.bare_seconds


def bare_images_per_second(name: str, train_split, steps: int, batch: int) -> float:
    bare = BareLoop(name, first_faces(train_split, steps, batch), batch)
    bare.step()
    started = time.perf_counter()
    for _ in range(steps):
        bare.step()
    return steps * batch / (time.perf_counter() - started)


def markdown(report: dict) -> str:
    lines = [
        "# Training throughput: Trainer pipeline vs bare PyTorch loop",
        "",
        f"{report['machine']}; {report['threads']} torch threads; "
        f"Trainer and bare steps interleaved in one process; at least {report['steps'] - report['warmup']} timed "
        f"steps each (about {report['min_seconds']:g} s of Trainer steps) after {report['warmup']} warmup.",
        "",
        "| model | params | batch | steps | Trainer img/s | bare loop img/s | pipeline overhead |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["models"]:
        lines.append(f"| {row['model']} | {row['params'] / 1e6:.2f}M | {row['batch']} | {row['steps']} | {row['trainer_images_per_second']:.1f} | "
                     f"{row['bare_images_per_second']:.1f} | {row['overhead_percent']:+.1f}% |")
    return "\n".join(lines + ["", report["note"], ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list_models())
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--min-seconds", type=float, default=8.0, help="least timed seconds of Trainer steps")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, help="batch size for every model (default: each recipe's CPU batch)")
    parser.add_argument("--note", default="")
    parser.add_argument("--output", type=Path, default=RESULTS / "train_throughput.json")
    args = parser.parse_args()

    train_split = load_fer2013(SHARED_CSV if SHARED_CSV.is_file() else FIXTURE)["train"]
    rows = []
    for name in args.models:
        batch = args.batch or load_recipe(default_recipe_path(name), on_cpu=True).training["per_device_train_batch_size"]
        speed = bare_images_per_second(name, train_split, args.steps, batch)
        steps = max(args.steps, args.warmup + math.ceil(args.min_seconds * speed / batch))
        trainer, bare = lockstep_images_per_second(name, train_split, steps, args.warmup, batch)
        rows.append({"model": name, "batch": batch, "steps": steps, "params": sum(p.numel() for p in create_model(name).parameters()),
                     "trainer_images_per_second": trainer, "bare_images_per_second": bare,
                     "overhead_percent": 100 * (bare / trainer - 1)})
        print(f"{name}: Trainer {trainer:.1f} img/s, bare {bare:.1f} img/s, overhead {rows[-1]['overhead_percent']:+.1f}%")
    report = {"machine": f"{platform.machine()}, {torch.get_num_threads()}-thread torch {torch.__version__}",
              "threads": torch.get_num_threads(), "steps": args.steps, "min_seconds": args.min_seconds, "warmup": args.warmup,
              "note": args.note, "models": rows}
    write_report(report, args.output, markdown)


if __name__ == "__main__":
    main()
