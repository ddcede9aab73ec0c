"""Building, saving and loading the registry's models (fer_hub.models.registry says what each model is)."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForImageClassification, PreTrainedModel
from transformers.dynamic_module_utils import custom_object_save

from ..errors import FerHubError
from ..labels import ID2LABEL, LABEL2ID
from .image_processing_fer import FerImageProcessor
from .pretrained import resolve_model
from .registry import INPUT_SIDE, MODELS, model_entry
from .trust import resolve_trust_remote_code

FER_IMAGE_PROCESSORS = {"pil": FerImageProcessor, "torchvision": FerImageProcessor}  # one class, either backend


def register_auto_classes() -> None:
    """Register the custom architectures with the Auto classes (`AutoModel` loads the backbone), and mark them
    (and the image processor) to be saved as remote code so a folder loads where fer_hub is not installed."""
    for entry in MODELS.values():
        if not entry.is_custom:
            continue
        config_class, backbone_class, model_class = entry.config_class, entry.backbone_class, entry.model_class
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
        AutoModel.register(config_class, backbone_class, exist_ok=True)
        AutoModelForImageClassification.register(config_class, model_class, exist_ok=True)
        config_class.register_for_auto_class()
        backbone_class.register_for_auto_class("AutoModel")
        model_class.register_for_auto_class("AutoModelForImageClassification")
        AutoImageProcessor.register(config_class, image_processor_classes=FER_IMAGE_PROCESSORS, exist_ok=True)
    FerImageProcessor.register_for_auto_class("AutoImageProcessor")


register_auto_classes()  # on import: every path that creates or loads a model imports this module


def create_model(name: str, **config_overrides) -> PreTrainedModel:
    """A freshly initialised model of the named architecture, labelled with the 7 FER2013 classes."""
    entry = model_entry(name)
    config = entry.config_class(
        **{**entry.config_defaults, **config_overrides, "id2label": ID2LABEL, "label2id": LABEL2ID}
    )
    return entry.model_class(config)


def image_processor_for(model: PreTrainedModel) -> FerImageProcessor:
    """The processor that feeds `model` images: 48x48 gray, or the input size its config sets (if it sets one)."""
    side = getattr(model.config, "image_size", None) or INPUT_SIDE
    return FerImageProcessor(size={"height": side, "width": side})


def save_checkpoint(
    model: PreTrainedModel,
    processor: FerImageProcessor,
    folder: str | Path,
    half_precision: bool = False,
    max_shard_size: str | int | None = None,
) -> None:
    """Write a complete, Hub-ready folder: config, safetensors weights, processor config, and for a custom
    architecture its code, with `auto_map` entries for AutoConfig, AutoModel (the backbone) and
    AutoModelForImageClassification. `half_precision` stores the floating-point weights as fp16 (the config keeps
    the model's dtype, so `from_pretrained` loads them back as fp32); `max_shard_size` cuts the weights into files of
    at most that size ("40MB"), with an index."""
    backbone = model.base_model
    if backbone is not model and getattr(backbone, "_auto_class", None):
        Path(folder).mkdir(parents=True, exist_ok=True)
        custom_object_save(backbone, folder, config=model.config)  # adds the AutoModel entry to auto_map
    weights = None
    if half_precision:
        weights = {
            key: tensor.half() if tensor.is_floating_point() else tensor for key, tensor in model.state_dict().items()
        }
    model.save_pretrained(folder, state_dict=weights, max_shard_size=max_shard_size or "50GB")
    processor.save_pretrained(folder)


def load_checkpoint(
    reference: str | Path | None = None, trust_remote_code: bool = False
) -> tuple[PreTrainedModel, FerImageProcessor]:
    """Model and image processor from a trained model's name (`cnn.fer2013`, see `fer_hub.list_pretrained()`; the
    default `sepnet.ferplus` if None), a local folder or a Hub repo id.

    fer-hub's own architectures load with the installed classes. A model that brings other Python code loads only
    with `trust_remote_code=True`, which runs that code (with a warning naming `reference`)."""
    reference = resolve_model(reference)
    trusted = resolve_trust_remote_code(reference, trust_remote_code)
    try:
        model = AutoModelForImageClassification.from_pretrained(reference, trust_remote_code=trusted)
        processor = AutoImageProcessor.from_pretrained(reference, trust_remote_code=trusted)
    except (OSError, ValueError) as error:
        raise FerHubError(f"{reference}: cannot load a model from this folder or Hub repo ({error})") from None
    except Exception as error:
        if not trusted:
            raise
        raise FerHubError(f"{reference}: its own model code failed ({type(error).__name__}: {error})") from None
    return model.eval(), processor
