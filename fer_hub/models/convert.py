"""Converting model folders of fer-hub's own architectures saved before they took the transformers shape.

Until then each custom model was one module with head and body fused (`features.0.weight`, `lstm.*`,
`stages.0.body.0.1.weight`); now the body is a backbone under the model's `base_model_prefix`, with named layers
(`cnn.blocks.0.convolution.weight`, `rnn.layers.0.*`, `sepnet.stages.0.layers.0.pointwise.weight`). Renaming the
weights is all it takes: the same tensors, in the same parameter order, compute the same logits.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import PreTrainedConfig

from ..errors import FerHubError
from ..hub.model_card import read_json
from .factory import save_checkpoint
from .image_processing_fer import FerImageProcessor
from .registry import entry_for_model_type

Renames = list[tuple[str, str]]  # (regex over a legacy key, replacement)


def _cnn_renames(config: PreTrainedConfig) -> Renames:
    blocks = [
        (rf"^features\.{3 * index}\.", f"cnn.blocks.{index}.convolution.") for index in range(len(config.conv_channels))
    ]
    return [*blocks, (r"^dense\.0\.", "cnn.dense.")]


def _rnn_renames(config: PreTrainedConfig) -> Renames:
    # one multi-layer nn.LSTM -> one single-layer nn.LSTM per layer
    return [
        (r"^lstm\.(weight|bias)_(ih|hh)_l(\d+)(_reverse)?$", r"rnn.layers.\3.\1_\2_l0\4"),
        (r"^dense\.0\.", "rnn.dense."),
    ]


def _sepnet_renames(config: PreTrainedConfig) -> Renames:
    return [
        (r"^stem\.(\d+)\.0\.", r"sepnet.stem.\1.convolution."),
        (r"^stem\.(\d+)\.1\.", r"sepnet.stem.\1.normalization."),
        (r"^stages\.(\d+)\.body\.(\d+)\.0\.", r"sepnet.stages.\1.layers.\2.depthwise."),
        (r"^stages\.(\d+)\.body\.(\d+)\.1\.", r"sepnet.stages.\1.layers.\2.pointwise."),
        (r"^stages\.(\d+)\.body\.(\d+)\.2\.", r"sepnet.stages.\1.layers.\2.normalization."),
        (r"^stages\.(\d+)\.shortcut\.0\.", r"sepnet.stages.\1.shortcut.convolution."),
        (r"^stages\.(\d+)\.shortcut\.1\.", r"sepnet.stages.\1.shortcut.normalization."),
    ]


def _vgg_renames(config: PreTrainedConfig) -> Renames:
    # the legacy `features` ran every block's conv-BN-ReLU units and max-pools in one flat nn.Sequential
    renames, index = [], 0
    for block, channels in enumerate(config.block_channels):
        for layer in range(len(channels)):
            renames.append((rf"^features\.{index}\.0\.", f"vgg.blocks.{block}.layers.{layer}.convolution."))
            renames.append((rf"^features\.{index}\.1\.", f"vgg.blocks.{block}.layers.{layer}.normalization."))
            index += 1
        index += 1  # the block's max-pool
    # the legacy `dense`: Flatten, then Linear, ReLU, Dropout per dense layer
    return renames + [
        (rf"^dense\.{1 + 3 * layer}\.", f"vgg.dense.{layer}.") for layer in range(config.num_dense_layers)
    ]


LEGACY_RENAMES: dict[str, Callable[[PreTrainedConfig], Renames]] = {
    "fer_cnn": _cnn_renames,
    "fer_rnn": _rnn_renames,
    "fer_sepnet": _sepnet_renames,
    "fer_vgg": _vgg_renames,
}


def _rename(key: str, renames: Renames) -> str:
    for pattern, replacement in renames:
        renamed, count = re.subn(pattern, replacement, key)
        if count:
            return renamed
    return key


def convert_legacy_checkpoint(folder: str | Path) -> int:
    """Rewrite a model folder of a fer-hub custom architecture (cnn, rnn, sepnet, vgg16) in place to the current
    layout: weights renamed into model.safetensors, config.json with `auto_map` entries for AutoConfig, AutoModel
    and AutoModelForImageClassification, and the package's current code files (configuration_*.py, modeling_*.py,
    image_processing_fer.py). Other files are left alone, so a Trainer checkpoint folder (`checkpoints/checkpoint-N`)
    converts too and resumes: the parameter order, which the optimizer state follows, is unchanged.

    Works from the weights' names, whatever code files the folder holds; a folder already in the current layout is
    rewritten unchanged, so it is safe to run again (also after an interruption). Returns how many tensors were
    renamed. Raises FerHubError if the folder is not a complete fer-hub model folder or its weights do not fit.
    """
    folder = Path(folder)
    model_type = read_json(folder / "config.json").get("model_type")
    if model_type not in LEGACY_RENAMES:
        raise FerHubError(f"{folder / 'config.json'}: model_type {model_type!r} has no legacy layout to convert")
    for name in ("model.safetensors", "preprocessor_config.json"):
        if not (folder / name).is_file():
            raise FerHubError(f"{folder}: no {name}; not a complete fer-hub model folder")

    entry = entry_for_model_type(model_type)
    config = entry.config_class.from_pretrained(folder)
    renames = LEGACY_RENAMES[model_type](config)
    legacy = load_file(folder / "model.safetensors")
    weights = {_rename(key, renames): tensor for key, tensor in legacy.items()}
    with torch.device("meta"):  # shapes only; the tensors come from the file
        model = entry.model_class(config)
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(weights)), sorted(set(weights) - set(expected))
    misshapen = [
        f"{key} {tuple(weights[key].shape)} (needs {tuple(tensor.shape)})"
        for key, tensor in expected.items()
        if key in weights and weights[key].shape != tensor.shape
    ]
    if missing or unexpected or misshapen:
        raise FerHubError(
            f"{folder / 'model.safetensors'}: weights do not fit {entry.model_class.__name__}; "
            f"missing {', '.join(missing[:5]) or 'none'}; unexpected {', '.join(unexpected[:5]) or 'none'}; "
            f"wrong shape {', '.join(misshapen[:5]) or 'none'}"
        )
    model.load_state_dict(weights, strict=True, assign=True)
    processor = FerImageProcessor.from_pretrained(folder)

    with tempfile.TemporaryDirectory(dir=folder, prefix=".converting-") as staging:
        save_checkpoint(model.eval(), processor, staging)
        for path in sorted(Path(staging).iterdir()):
            os.replace(path, folder / path.name)
    return sum(old != new for old, new in zip(legacy, weights))
