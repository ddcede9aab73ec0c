"""The one registry of architectures: names, how to build them, and how to save them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModelForImageClassification,
    PretrainedConfig,
    PreTrainedModel,
    ResNetConfig,
    ResNetForImageClassification,
    ViTConfig,
    ViTForImageClassification,
)

from .errors import FerHubError
from .image_processing_fer import FerImageProcessor
from .labels import ID2LABEL, LABEL2ID
from .models.cnn import FerCnnConfig, FerCnnForImageClassification
from .models.rnn import FerRnnConfig, FerRnnForImageClassification
from .models.sepnet import FerSepNetConfig, FerSepNetForImageClassification
from .models.vgg import FerVggConfig, FerVggForImageClassification


@dataclass(frozen=True)
class ZooEntry:
    name: str
    description: str
    config_class: type[PretrainedConfig]
    model_class: type[PreTrainedModel]
    defaults: dict = field(default_factory=dict)


ZOO: dict[str, ZooEntry] = {
    entry.name: entry
    for entry in (
        ZooEntry("vgg16", "VGG16-BN, 13 convs 64->512, 2 x Dense 4096 + dropout 0.5", FerVggConfig, FerVggForImageClassification),
        ZooEntry(
            "resnet101",
            "transformers' ResNet-101 (bottleneck, depths 3-4-23-3), 1 input channel",
            ResNetConfig,
            ResNetForImageClassification,
            dict(num_channels=1, depths=[3, 4, 23, 3], hidden_sizes=[256, 512, 1024, 2048], layer_type="bottleneck"),
        ),
        ZooEntry("cnn", "the study's CNN: Conv32-64-128, Dense 1024, dropout 0.5", FerCnnConfig, FerCnnForImageClassification),
        ZooEntry("rnn", "BiLSTM(64) x 2 over pixel rows, Dense 64", FerRnnConfig, FerRnnForImageClassification),
        ZooEntry(
            "vit",
            "transformers' ViT: 48x48 grayscale, patch 6, 6 layers, hidden 192",
            ViTConfig,
            ViTForImageClassification,
            dict(
                image_size=48, patch_size=6, num_channels=1, hidden_size=192, num_hidden_layers=6,
                num_attention_heads=3, intermediate_size=768, hidden_dropout_prob=0.1,
            ),
        ),
        ZooEntry(
            "sepnet",
            "compact residual depthwise-separable CNN for fast CPU inference (the default model)",
            FerSepNetConfig,
            FerSepNetForImageClassification,
        ),
    )
}

CUSTOM_ARCHITECTURES = (
    (FerVggConfig, FerVggForImageClassification),
    (FerCnnConfig, FerCnnForImageClassification),
    (FerRnnConfig, FerRnnForImageClassification),
    (FerSepNetConfig, FerSepNetForImageClassification),
)


def register_auto_classes() -> None:
    """Register the custom architectures with the Auto classes, and mark them (and the image
    processor) to be saved as remote code so a folder loads where fer_hub is not installed."""
    for config_class, model_class in CUSTOM_ARCHITECTURES:
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
        AutoModelForImageClassification.register(config_class, model_class, exist_ok=True)
        config_class.register_for_auto_class()
        model_class.register_for_auto_class("AutoModelForImageClassification")
    FerImageProcessor.register_for_auto_class("AutoImageProcessor")


def list_models() -> list[str]:
    return list(ZOO)


def zoo_entry(name: str) -> ZooEntry:
    if name not in ZOO:
        raise FerHubError(f"unknown model {name!r}; choose one of: {', '.join(ZOO)}")
    return ZOO[name]


def create_model(name: str, **config_overrides) -> PreTrainedModel:
    """A freshly initialised model of the named architecture, labelled with the 7 FER2013 classes."""
    entry = zoo_entry(name)
    config = entry.config_class(**{**entry.defaults, **config_overrides, "id2label": ID2LABEL, "label2id": LABEL2ID})
    return entry.model_class(config)


def image_processor_for(model: PreTrainedModel) -> FerImageProcessor:
    """The processor that feeds `model` images at its input size (48x48 unless configured otherwise)."""
    side = getattr(model.config, "image_size", 48)
    return FerImageProcessor(size={"height": side, "width": side})


def save_checkpoint(model: PreTrainedModel, processor: FerImageProcessor, folder: str | Path) -> None:
    """Write a complete, Hub-ready folder: config, safetensors weights, processor config, remote code."""
    model.save_pretrained(folder)
    processor.save_pretrained(folder)


DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default_model"


def load_checkpoint(reference: str | Path | None = None) -> tuple[PreTrainedModel, FerImageProcessor]:
    """Model and image processor from a local folder or a Hub repo id (the embedded default if None)."""
    reference = str(reference or DEFAULT_MODEL_DIR)
    try:
        model = AutoModelForImageClassification.from_pretrained(reference, trust_remote_code=True)
        processor = AutoImageProcessor.from_pretrained(reference, trust_remote_code=True)
    except (OSError, ValueError) as error:
        raise FerHubError(f"{reference}: cannot load a model from this folder or Hub repo ({error})") from None
    return model.eval(), processor
