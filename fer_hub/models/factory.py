"""Building, saving and loading the registry's models (fer_hub.models.registry says what each model is)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from PIL import Image
from safetensors import SafetensorError, safe_open
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModel,
    AutoModelForImageClassification,
    PreTrainedModel,
)
from transformers.dynamic_module_utils import custom_object_save
from transformers.models.auto.video_processing_auto import VIDEO_PROCESSOR_MAPPING

from ..checks import describe_kind
from ..errors import FerHubError
from ..labels import ID2LABEL, LABEL2ID
from .face_detection import DETECTOR_FILE
from .image_processing_fer import FerImageProcessor
from .limits import check_config_limits, check_processor_limits
from .pretrained import resolve_model
from .registry import INPUT_SIDE, MODELS, model_entry
from .trust import read_json, resolve_trust_remote_code

FER_IMAGE_PROCESSORS = {"pil": FerImageProcessor, "torchvision": FerImageProcessor}  # one class, either backend
SAFETENSORS_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")  # weights fer-hub never unpickles
PIPELINE_CODE = ("pipeline_fer.py", "face_detection.py")  # byte-identical copies of these modules go into every folder
DETECTOR_WEIGHTS = Path(__file__).resolve().parents[1] / "face_models" / DETECTOR_FILE
CUSTOM_PIPELINES = {  # config.json's entry for `pipeline("facial-expression-recognition", model=folder)`
    "facial-expression-recognition": {
        "impl": "pipeline_fer.FacialExpressionPipeline",
        "pt": ["AutoModelForImageClassification"],
        "type": "image",
    }
}


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
        # No video processor: without this entry, AutoVideoProcessor (which pipelines such as image-classification
        # try) derives "image_processing_fer.FerVideoProcessor" from the image processor's auto_map, and since the
        # config is installed code, trust_remote_code stays None and transformers asks "[y/N]" on stdin.
        VIDEO_PROCESSOR_MAPPING.register(config_class, {}, exist_ok=True)  # (AutoVideoProcessor needs torchvision)
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
    at most that size ("40MB"), with an index; and the face-aware pipeline (`add_face_pipeline`)."""
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
    add_face_pipeline(folder)


def add_face_pipeline(folder: str | Path) -> None:
    """Give a saved model folder the face-aware "facial-expression-recognition" pipeline: copies of
    `fer_hub.models.pipeline_fer` and `fer_hub.models.face_detection`, the RetinaFace ONNX weights, and the
    `custom_pipelines` entry of config.json (the weights and every other file are left as they are)."""
    folder = Path(folder)
    for name in PIPELINE_CODE:
        shutil.copyfile(Path(__file__).with_name(name), folder / name)
    shutil.copyfile(DETECTOR_WEIGHTS, folder / DETECTOR_FILE)
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["custom_pipelines"] = CUSTOM_PIPELINES
    staged = config_path.with_name(f".{config_path.name}.tmp")
    staged.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(staged, config_path)


def load_checkpoint(
    reference: str | Path | None = None, trust_remote_code: bool = False
) -> tuple[PreTrainedModel, FerImageProcessor]:
    """Model and image processor from a trained model's name (`cnn.fer2013`, see `fer_hub.list_pretrained()`; the
    default `sepnet.ferplus` if None), a local folder or a Hub repo id.

    fer-hub's own architectures load with the installed classes. A model that brings other Python code loads only
    with `trust_remote_code=True`, which runs that code (with a warning naming `reference`).

    Before anything is built, the config and processor sizes are checked against `fer_hub.models.limits`, and a
    local folder's weights must be complete safetensors files; after loading, every weight of the model must have
    come from the checkpoint, in its shape (anything else is a FerHubError naming the first keys)."""
    reference = resolve_model(reference)
    check_model_source(reference)
    trusted = resolve_trust_remote_code(reference, trust_remote_code)
    processor_config = read_json(reference, "preprocessor_config.json")
    try:
        model, info = AutoModelForImageClassification.from_pretrained(
            reference,
            trust_remote_code=trusted,
            use_safetensors=True,  # never unpickle: pickled weights can run code
            output_loading_info=True,
            ignore_mismatched_sizes=True,  # reported below, naming the keys, instead of a RuntimeError
        )
    except SafetensorError as error:
        raise FerHubError(
            f"{_weights_name(reference)}: its safetensors weights are damaged or truncated ({error})"
        ) from error
    except (OSError, ValueError) as error:
        if "safetensors" in str(error):
            raise FerHubError(
                f"{reference}: has no safetensors weights (model.safetensors); {ONLY_SAFETENSORS}"
            ) from error
        raise FerHubError(f"{reference}: cannot load a model from this folder or Hub repo ({error})") from error
    except Exception as error:
        if not trusted:
            raise
        raise FerHubError(f"{reference}: its own model code failed ({type(error).__name__}: {error})") from error
    _check_loading_info(_weights_name(reference), info)
    try:
        processor = AutoImageProcessor.from_pretrained(reference, trust_remote_code=trusted)
    except Exception as error:  # transformers raises many types for a processor class it cannot build
        named = processor_config.get("image_processor_type")
        mapped = processor_config.get("auto_map") if isinstance(processor_config.get("auto_map"), dict) else {}
        classes = ", ".join(str(name) for name in dict.fromkeys([named, mapped.get("AutoImageProcessor")]) if name)
        raise FerHubError(
            f"{reference}: cannot build its image processor {classes or '(no class named)'} "
            f"({type(error).__name__}: {error})"
        ) from error
    _check_processor_fits(reference, processor_config, processor, model)
    return model.eval(), processor


def _check_processor_fits(reference: str, settings: dict, processor, model: PreTrainedModel) -> None:
    """The image processor makes the images the model takes: a processor config whose auto_map and
    image_processor_type name different classes, or a processor whose images have another number of channels
    than the model's config says, is a FerHubError naming the class (not a shape error at the first image)."""
    named, mapped = settings.get("image_processor_type"), settings.get("auto_map")
    mapped = mapped.get("AutoImageProcessor") if isinstance(mapped, dict) else None
    cls = type(processor).__name__
    if isinstance(named, str) and isinstance(mapped, str) and mapped.rpartition(".")[2] != named:
        raise FerHubError(
            f"{reference}: preprocessor_config.json names image_processor_type {named!r} but its auto_map points to "
            f"{mapped!r}; fer-hub refuses a processor whose class is ambiguous (transformers built {cls})"
        )
    channels = getattr(model.config, "num_channels", None)
    try:
        pixels = processor(Image.new("L", (48, 48)), return_tensors="np")["pixel_values"]
    except Exception as error:  # a processor that cannot take a plain image cannot serve fer-hub
        raise FerHubError(f"{reference}: its image processor {cls} fails on a test image ({error})") from error
    if isinstance(channels, int) and getattr(pixels, "ndim", 0) == 4 and pixels.shape[1] != channels:
        raise FerHubError(
            f"{reference}: its image processor {cls} makes {pixels.shape[1]}-channel images, but the model takes "
            f"{channels}"
        )


def looks_like_path(reference: str) -> bool:
    """Whether a reference that names nothing on this machine was meant as a path, not a Hub repo id `owner/name`."""
    return (
        reference.startswith(("/", ".", "~"))
        or "\\" in reference
        or reference.count("/") > 1
        or (os.sep != "/" and os.sep in reference)
    )


def check_model_reference(reference: str, need_processor: bool = True) -> None:
    """A FerHubError for a model reference that cannot be a model folder or Hub repo, said plainly: a path that
    does not exist, a file or FIFO where a folder belongs, a folder whose config.json is missing or not a file."""
    path = Path(reference)
    if not path.exists():
        if looks_like_path(reference):
            raise FerHubError(f"{reference}: cannot load a model: no such folder or .onnx file")
        return  # a Hub repo id
    if not path.is_dir():
        what = "a file" if path.is_file() else describe_kind(path)
        raise FerHubError(
            f"{reference}: cannot load a model: {what}, not a model folder (a folder with config.json, or an .onnx "
            "file exported by `fer-hub export-onnx`)"
        )
    for name in ("config.json", "preprocessor_config.json") if need_processor else ("config.json",):
        file = path / name
        if not file.exists():
            raise FerHubError(f"{reference}: cannot load a model: not a model folder (it has no {name})")
        if not file.is_file():
            raise FerHubError(f"{file}: {describe_kind(file)}, not a file")


ONLY_SAFETENSORS = (
    "fer-hub loads only safetensors weights, never pickled ones (.bin, .pt), since unpickling can run code"
)


def check_model_source(reference: str, need_processor: bool = True, config_overrides: dict | None = None) -> None:
    """Everything checked before a model folder or Hub repo is built: its files, its config (with
    `config_overrides` over it) and processor sizes against `fer_hub.models.limits`, and a local folder's weights."""
    check_model_reference(reference, need_processor=need_processor)
    config = {**read_json(reference, "config.json"), **(config_overrides or {})}
    check_config_limits(config, f"{reference}: config.json")
    check_processor_limits(read_json(reference, "preprocessor_config.json"), f"{reference}: preprocessor_config.json")
    if Path(reference).is_dir():
        check_local_weights(Path(reference))


def check_local_weights(folder: Path) -> None:
    """A folder's weights are safetensors files with readable headers: a folder of pickled weights only, or a
    truncated or damaged safetensors file, is a FerHubError naming it (before transformers reads any weight)."""
    files = sorted(folder.glob("*.safetensors"))
    if not any((folder / name).is_file() for name in SAFETENSORS_FILES):
        pickles = sorted(path.name for path in folder.iterdir() if path.suffix in PICKLE_SUFFIXES)
        found = f" (only {', '.join(pickles)})" if pickles else ""
        raise FerHubError(f"{folder}: has no safetensors weights (model.safetensors){found}; {ONLY_SAFETENSORS}")
    for file in files:
        try:
            with safe_open(file, framework="pt") as weights:
                weights.keys()
        except (SafetensorError, OSError) as error:
            raise FerHubError(f"{file}: not a complete safetensors file ({error})") from None


def _weights_name(reference: str) -> str:
    """How messages about a model's weights name them: a local folder's one weights file, else the reference."""
    single = Path(reference) / "model.safetensors"
    return str(single) if single.is_file() else reference


def _check_loading_info(reference: str, info: dict) -> None:
    """Every weight of the model came from the checkpoint, and every checkpoint tensor has a place of its shape."""
    if info.get("mismatched_keys"):
        described = [
            f"{key} ({tuple(stored)} in the file, {tuple(expected)} in the model)"
            for key, stored, expected in sorted(info["mismatched_keys"], key=lambda item: item[0])[:3]
        ]
        raise FerHubError(
            f"{reference}: tensors of the wrong shape for the model its config describes: {', '.join(described)}"
        )
    for kind, keys in (
        ("lacks weights for", info.get("missing_keys")),
        ("has weights the model has no place for", info.get("unexpected_keys")),
    ):
        if keys:
            keys = sorted(keys)
            more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
            raise FerHubError(f"{reference}: {kind} {', '.join(keys[:3])}{more}")
