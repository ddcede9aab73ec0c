"""The one registry of fer-hub's models: one entry per model name holding everything known about it.

Importing this module is instant (no torch, no transformers): classes are named by import path and imported on
first use, so `fer-hub --help` can list the models.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from ..errors import FerHubError

INPUT_SIDE = 48  # FER2013 faces are 48x48 gray


@dataclass(frozen=True)
class ModelEntry:
    """A model name's architecture, defaults, recipe and pretrained source.

    `config_path`, `backbone_path` and `model_path` name classes as "module.Class" (the backbone is what
    `AutoModel` loads, the model the image classifier). `pretrained_source` is the `model_type` of the RGB ImageNet
    checkpoints `--init-from` accepts (None: training starts from scratch only), `pretrained_config` the config settings
    that make the architecture take their weights (vit: no convolutional stem)."""

    name: str
    description: str
    config_path: str
    backbone_path: str
    model_path: str
    recipe: str  # the file stem of its training recipe in fer_hub/recipes/
    config_defaults: dict = field(default_factory=dict)
    pretrained_source: str | None = None
    pretrained_config: dict = field(default_factory=dict)

    @property
    def config_class(self) -> type:
        return _import(self.config_path)

    @property
    def backbone_class(self) -> type:
        return _import(self.backbone_path)

    @property
    def model_class(self) -> type:
        return _import(self.model_path)

    @property
    def is_custom(self) -> bool:
        """Defined in fer_hub.models, so saved folders carry the code (`trust_remote_code`)."""
        return self.model_path.startswith("fer_hub.models.")


def _import(path: str) -> type:
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        ModelEntry(
            "vgg16",
            "VGG16-BN, 13 convs 64->512, 2 x Dense 4096 + dropout 0.5",
            "fer_hub.models.vgg.FerVggConfig",
            "fer_hub.models.vgg.FerVggModel",
            "fer_hub.models.vgg.FerVggForImageClassification",
            recipe="vgg16",
        ),
        ModelEntry(
            "resnet101",
            "transformers' ResNet-101 (bottleneck, depths 3-4-23-3), 1 input channel",
            "transformers.ResNetConfig",
            "transformers.ResNetModel",
            "transformers.ResNetForImageClassification",
            recipe="resnet101",
            config_defaults={
                "num_channels": 1,
                "depths": [3, 4, 23, 3],
                "hidden_sizes": [256, 512, 1024, 2048],
                "layer_type": "bottleneck",
            },
            pretrained_source="resnet",
        ),
        ModelEntry(
            "cnn",
            "the study's CNN: Conv32-64-128, Dense 1024, dropout 0.5",
            "fer_hub.models.cnn.FerCnnConfig",
            "fer_hub.models.cnn.FerCnnModel",
            "fer_hub.models.cnn.FerCnnForImageClassification",
            recipe="cnn",
        ),
        ModelEntry(
            "rnn",
            "BiLSTM(64) x 2 over pixel rows, Dense 64",
            "fer_hub.models.rnn.FerRnnConfig",
            "fer_hub.models.rnn.FerRnnModel",
            "fer_hub.models.rnn.FerRnnForImageClassification",
            recipe="rnn",
        ),
        ModelEntry(
            "vit",
            "ViT with a convolutional stem: 48x48 grayscale, 32-64-128 stem, 6x6 tokens, 6 layers, hidden 192",
            "fer_hub.models.vit.FerViTConfig",
            "fer_hub.models.vit.FerViTModel",
            "fer_hub.models.vit.FerViTForImageClassification",
            recipe="vit",
            pretrained_source="vit",
            pretrained_config={"stem_channels": []},
        ),
        ModelEntry(
            "sepnet",
            "compact residual depthwise-separable CNN for fast CPU inference (the default model)",
            "fer_hub.models.sepnet.FerSepNetConfig",
            "fer_hub.models.sepnet.FerSepNetModel",
            "fer_hub.models.sepnet.FerSepNetForImageClassification",
            recipe="sepnet",
        ),
    )
}


def list_models() -> list[str]:
    """The model names, in the registry's order."""
    return list(MODELS)


def model_entry(name: str) -> ModelEntry:
    """The entry for `name`, or a FerHubError listing the names there are."""
    if name not in MODELS:
        raise FerHubError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    return MODELS[name]


def entry_for_model_type(model_type: str) -> ModelEntry | None:
    """The entry whose config has this `model_type` (a config.json's "model_type"), if any."""
    return next((entry for entry in MODELS.values() if entry.config_class.model_type == model_type), None)
