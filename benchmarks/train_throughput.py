"""Training images/s per model on this machine: fp32 against bf16 autocast (a recipe's `bf16: true`, which is
Trainer's mixed precision on CPU: the forward pass under `torch.autocast("cpu", torch.bfloat16)`, weights and
optimizer fp32), each model built exactly as its recipe trains it: the recipe's model config, its CPU batch size,
channels_last when the recipe sets it, its augmentation, class weights and label smoothing (hard FER2013 labels),
AdamW (fused, Trainer's default) at its learning rate and weight decay, gradient clipping at its max_grad_norm.

The two variants start from the same weights, draw the same batches and run in lockstep in one process, one
step each in turn (the order alternating): this machine's speed swings by up to 2x within seconds (a shared
host), which separate runs cannot cancel; interleaved steps see the same machine, so their ratio holds. A step
is timed whole: next batch (augmentation included), forward, loss, backward, clipping, AdamW.

    python benchmarks/train_throughput.py [--models cnn rnn] [--steps 20] [--warmup 3]

Writes benchmarks/results/train_throughput.json and .md.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from results_io import write_report
from torch.utils.data import DataLoader
from transformers import TrainingArguments, default_data_collator

from fer_hub import create_model, image_processor_for, list_models, load_fer2013
from fer_hub.training.recipes import Recipe, default_recipe_path, load_recipe
from fer_hub.training.train import class_weights, with_transform

ROOT = Path(__file__).resolve().parents[1]
SHARED_CSV = ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.csv.gz"
FIXTURE = ROOT / "tests" / "fixtures" / "fer2013_tiny.csv.gz"
RESULTS = Path(__file__).resolve().parent / "results"
SEED = 0


def recipe_arguments(recipe: Recipe) -> TrainingArguments:
    """The recipe's CPU `training` settings, with Trainer's defaults for what it leaves out."""
    with tempfile.TemporaryDirectory() as folder:
        return TrainingArguments(output_dir=folder, use_cpu=True, report_to="none", **recipe.training)


def endless(loader: DataLoader):
    """Batch after batch, a new shuffle (and new augmentation) each pass."""
    while True:
        yield from loader


class RecipeStep:
    """One training step of a model as its recipe trains it, in fp32 or with bf16 autocast."""

    def __init__(self, name: str, recipe: Recipe, faces, bf16: bool):
        settings = recipe_arguments(recipe)
        torch.manual_seed(SEED)  # both variants start from the same weights
        model = create_model(name, **recipe.config)
        if recipe.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model.train()
        self.bf16 = bf16
        self.batch = settings.per_device_train_batch_size
        self.max_grad_norm = settings.max_grad_norm
        self.label_smoothing = recipe.label_smoothing
        self.weights = class_weights(faces["label"]) if recipe.balancing == "class_weights" else None
        served = with_transform(faces, image_processor_for(model), recipe.augmentation)
        order = torch.Generator().manual_seed(SEED)  # both variants see the same batches
        loader = DataLoader(
            served,
            batch_size=self.batch,
            shuffle=True,
            drop_last=True,
            generator=order,
            collate_fn=default_data_collator,
        )
        self.batches = endless(loader)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay, fused=True
        )

    def __call__(self) -> float:
        """One step; returns its loss."""
        inputs = next(self.batches)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            logits = self.model(pixel_values=inputs["pixel_values"]).logits
        loss = F.cross_entropy(
            logits.float(), inputs["labels"], weight=self.weights, label_smoothing=self.label_smoothing
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.item()


def interleaved(name: str, train_split, steps: int, warmup: int) -> dict:
    """fp32 and bf16 images/s of one model over the same `steps` timed steps, run in turn."""
    recipe = load_recipe(default_recipe_path(name), on_cpu=True)
    batch = recipe_arguments(recipe).per_device_train_batch_size
    faces = train_split.select(range(min(len(train_split), (steps + warmup) * batch)))
    variants = {"fp32": RecipeStep(name, recipe, faces, bf16=False), "bf16": RecipeStep(name, recipe, faces, bf16=True)}
    seconds = dict.fromkeys(variants, 0.0)
    losses = {variant: [] for variant in variants}
    for step in range(warmup + steps):
        for variant in list(variants)[:: 1 if step % 2 == 0 else -1]:
            started = time.perf_counter()
            losses[variant].append(variants[variant]())
            if step >= warmup:
                seconds[variant] += time.perf_counter() - started
    images = steps * batch
    fp32, bf16 = images / seconds["fp32"], images / seconds["bf16"]
    tail = max(1, steps // 4)
    return {
        "model": name,
        "params": sum(p.numel() for p in variants["fp32"].model.parameters()),
        "batch": batch,
        "channels_last": recipe.channels_last,
        "recipe_bf16": bool(recipe.training.get("bf16", False)),
        "steps": steps,
        "fp32_images_per_second": fp32,
        "bf16_images_per_second": bf16,
        "bf16_over_fp32": bf16 / fp32,
        "fp32_loss_first": losses["fp32"][0],
        "bf16_loss_first": losses["bf16"][0],
        "fp32_loss_last": statistics.mean(losses["fp32"][-tail:]),
        "bf16_loss_last": statistics.mean(losses["bf16"][-tail:]),
        "losses_finite": all(math.isfinite(loss) for values in losses.values() for loss in values),
    }


def markdown(report: dict) -> str:
    lines = [
        "# Training throughput: fp32 vs bf16 autocast",
        "",
        f"{report['machine']}, torch threads: {report['threads']}; each model as its recipe's CPU section trains it; "
        f"fp32 and bf16 steps interleaved in one process, {report['warmup']} warmup steps each, then the timed ones.",
        "",
        "| model | params | batch | channels_last | steps | fp32 img/s | bf16 img/s | bf16 / fp32 "
        "| loss fp32 | loss bf16 | recipe bf16 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["models"]:
        lines.append(
            f"| {row['model']} | {row['params'] / 1e6:.2f}M | {row['batch']} | "
            f"{'yes' if row['channels_last'] else 'no'} | "
            f"{row['steps']} | {row['fp32_images_per_second']:.1f} | {row['bf16_images_per_second']:.1f} | "
            f"**{row['bf16_over_fp32']:.2f}x** | {row['fp32_loss_first']:.3f} -> {row['fp32_loss_last']:.3f} | "
            f"{row['bf16_loss_first']:.3f} -> {row['bf16_loss_last']:.3f} | {'yes' if row['recipe_bf16'] else 'no'} |"
        )
    notes = ["", "Loss: the first step's, then the mean of the last quarter of the steps (a few steps: noisy)."]
    return "\n".join(lines + notes + ["", report["note"], ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list_models())
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--note", default="")
    parser.add_argument("--output", type=Path, default=RESULTS / "train_throughput.json")
    args = parser.parse_args()

    train_split = load_fer2013(SHARED_CSV if SHARED_CSV.is_file() else FIXTURE)["train"]
    rows = []
    for name in args.models:
        rows.append(interleaved(name, train_split, args.steps, args.warmup))
        row = rows[-1]
        print(
            f"{name}: fp32 {row['fp32_images_per_second']:.1f} img/s, bf16 {row['bf16_images_per_second']:.1f} img/s, "
            f"bf16/fp32 {row['bf16_over_fp32']:.2f}x, losses finite: {row['losses_finite']}",
            flush=True,
        )
    report = {
        "machine": f"{platform.machine()}, torch {torch.__version__}",
        "threads": torch.get_num_threads(),
        "warmup": args.warmup,
        "note": args.note,
        "models": rows,
    }
    write_report(report, args.output, markdown)


if __name__ == "__main__":
    main()
