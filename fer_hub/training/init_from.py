"""`--init-from`: start resnet101 or vit from an RGB ImageNet checkpoint in transformers format, its
first convolution / patch embedding averaged over RGB to take one grayscale channel."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import SafetensorError
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers.utils import cached_file

from ..errors import FerHubError, ParameterError
from ..labels import ID2LABEL, LABEL2ID
from ..models.factory import check_model_source
from ..models.image_processing_fer import FerImageProcessor
from ..models.registry import MODELS, model_entry


def _input_size(reference: str, config) -> int:
    """The checkpoint's input side: its image processor's crop/size, else its config's, else 224."""
    try:
        processor = json.loads(Path(cached_file(reference, "preprocessor_config.json")).read_text())
    except (OSError, ValueError):
        processor = {}
    size = processor.get("crop_size") or processor.get("size") or {}
    if isinstance(size, int):
        return size
    return size.get("height") or size.get("shortest_edge") or getattr(config, "image_size", 224)


def init_from_pretrained(
    model_name: str, reference: str, **config_overrides
) -> tuple[PreTrainedModel, FerImageProcessor]:
    """A grayscale, 7-class `model_name` initialised from the RGB checkpoint at `reference`."""
    entry = model_entry(model_name)
    if entry.pretrained_source is None:
        startable = [name for name, other in MODELS.items() if other.pretrained_source]
        raise ParameterError(
            "init_from", f"{reference}: an ImageNet checkpoint can start {', '.join(startable)}, not {model_name!r}"
        )
    check_model_source(reference, need_processor=False)
    try:
        source_config = AutoConfig.from_pretrained(reference, trust_remote_code=False)  # never a checkpoint's own code
        source = AutoModel.from_pretrained(reference, trust_remote_code=False, use_safetensors=True)
    except SafetensorError as error:
        raise FerHubError(f"{reference}: its safetensors weights are damaged or truncated ({error})") from error
    except (OSError, ValueError) as error:
        raise FerHubError(f"{reference}: cannot load a pretrained checkpoint ({error})") from error
    if source_config.model_type != entry.pretrained_source:
        raise FerHubError(
            f"{reference}: a {source_config.model_type!r} checkpoint cannot initialise {model_name} "
            f"(needs {entry.pretrained_source!r})"
        )
    side = _input_size(reference, source_config)
    settings = {
        **source_config.to_dict(),
        **entry.pretrained_config,
        **config_overrides,
        "num_channels": 1,
        "id2label": ID2LABEL,
        "label2id": LABEL2ID,
    }
    if "image_size" in settings:  # a config with an input size (ViT) takes the checkpoint's
        settings["image_size"] = side
    for key in ("architectures", "auto_map", "num_labels", "_name_or_path", "transformers_version", "model_type"):
        settings.pop(key, None)
    model = entry.model_class(entry.config_class(**settings))

    weights = {}
    for key, tensor in source.state_dict().items():
        if tensor.ndim == 4 and tensor.shape[1] == 3:  # the one RGB input layer
            tensor = tensor.mean(dim=1, keepdim=True)
        weights[key] = tensor
    result = model.base_model.load_state_dict(weights, strict=False)
    if result.missing_keys:
        raise FerHubError(f"{reference}: checkpoint lacks weights for {', '.join(result.missing_keys[:5])}")
    return model, FerImageProcessor(size={"height": side, "width": side})
