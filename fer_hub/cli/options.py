"""What several commands' parsers share: the model option's help, `--trust-remote-code` and the flag of the
library parameters that name models. `--model` takes one value and is repeated for an ensemble, so that in
`fer-hub predict --model A photo.jpg` the photo is never read as a model."""

from __future__ import annotations

import argparse

MODEL_HELP = (
    "trained model name (see `fer-hub models`), model folder, Hub repo id (OWNER/NAME) or .onnx file; "
    "repeat for an ensemble (--model A --model B: probabilities averaged)"
)
MODEL_FLAGS = {"models": "--model", "references": "--model", "reference": "--model"}  # the library's names for it


def check_model_names(references: list[str] | str | None) -> None:
    """Resolve each model reference before anything heavy is imported, so that an unknown name is one error line at
    once (fer_hub.models.pretrained imports neither torch nor transformers)."""
    from ..models.pretrained import resolve_model

    for reference in [references] if isinstance(references, str) else references or []:
        resolve_model(reference)


def add_device(command: argparse.ArgumentParser) -> None:
    from ..inference.devices import DEVICE_HELP

    command.add_argument("--device", default="cpu", help=f"where the models run: {DEVICE_HELP}")


def add_trust_remote_code(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="run the Python code a model folder or Hub repo brings (needed only for architectures that are not "
        "fer-hub's own; only for code you trust)",
    )
