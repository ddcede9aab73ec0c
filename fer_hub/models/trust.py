"""The remote-code policy: which Python code a model folder or Hub repo would run on loading, and running it only
when asked.

fer-hub's own architectures and image processor are registered with transformers' Auto classes on
`import fer_hub`, so a fer-hub folder loads with the installed classes: the copies of their code the folder
carries (for users without fer-hub) never run. Code for anything else in a folder's `auto_map` runs only with
`trust_remote_code=True` (`--trust-remote-code`), after a warning naming the folder or repo.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from transformers import AutoModelForImageClassification
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING, get_image_processor_class_from_name
from transformers.utils import cached_file

from ..errors import FerHubError

logger = logging.getLogger(__name__)

TRUST_HINT = "pass --trust-remote-code (Python: trust_remote_code=True) only if you trust its author"


@dataclass(frozen=True)
class RemoteCode:
    """The `auto_map` classes of a model that transformers would import from the model's own files."""

    reference: str
    classes: tuple[str, ...]  # e.g. "modeling_foo.FooForImageClassification", "owner/repo--modeling_foo.Foo"
    required: bool  # no installed class can stand in for at least one of them

    def describe(self) -> str:
        return ", ".join(self.classes)


def read_json(reference: str, filename: str) -> dict:
    """`filename` of a folder or Hub repo as a dict; {} when it is missing or not a JSON object."""
    try:
        path = cached_file(
            reference,
            filename,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
        )
        value = json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _class_references(value) -> list[str]:
    """The class references of one auto_map entry (a string, a list, or a dict keyed by backend)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [item for item in value if isinstance(item, str)]
    return []


def _installed_image_processor(processor: dict, config_class) -> type | None:
    """The installed class AutoImageProcessor would use: by the processor's type name, else by the model's config."""
    name = processor.get("image_processor_type")
    if isinstance(name, str):
        return get_image_processor_class_from_name(name)
    if config_class is not None and config_class in IMAGE_PROCESSOR_MAPPING:
        return next((cls for cls in IMAGE_PROCESSOR_MAPPING[config_class].values() if isinstance(cls, type)), None)
    return None


def remote_code(reference: str | Path) -> RemoteCode:
    """The code an image-classification model at `reference` (folder or Hub repo id) brings in its `auto_map`
    that loading with trust_remote_code=True would run: every entry without an installed class that is not
    transformers' own (transformers prefers installed non-transformers classes, such as fer-hub's)."""
    reference = str(reference)
    config = read_json(reference, "config.json")
    processor = read_json(reference, "preprocessor_config.json")
    model_type = config.get("model_type")
    config_class = CONFIG_MAPPING[model_type] if isinstance(model_type, str) and model_type in CONFIG_MAPPING else None
    model_mapping = AutoModelForImageClassification._model_mapping
    model_class = model_mapping[config_class] if config_class is not None and config_class in model_mapping else None
    config_map = config.get("auto_map") or {}
    declared = {  # auto class -> (its auto_map entry, the installed class transformers would use instead)
        "AutoConfig": (config_map.get("AutoConfig"), config_class),
        "AutoModelForImageClassification": (config_map.get("AutoModelForImageClassification"), model_class),
        "AutoImageProcessor": (
            (processor.get("auto_map") or {}).get("AutoImageProcessor") or config_map.get("AutoImageProcessor"),
            _installed_image_processor(processor, config_class),
        ),
    }
    classes, required = [], False
    for entry, installed in declared.values():
        references = _class_references(entry)
        if not references or (installed is not None and not installed.__module__.startswith("transformers.")):
            continue
        classes += references
        required = required or installed is None
    return RemoteCode(reference, tuple(dict.fromkeys(classes)), required)


def resolve_trust_remote_code(reference: str | Path, trust_remote_code: bool) -> bool:
    """The `trust_remote_code` value to load `reference` with: False whenever no code of its own would run;
    True, with a warning naming it, when code would run and the caller allowed it; else a FerHubError when
    the model cannot load without its code."""
    code = remote_code(reference)
    if not code.classes:
        return False
    if trust_remote_code:
        logger.warning(
            "warning: running the Python code of %s (%s) because trust_remote_code was given",
            reference,
            code.describe(),
        )
        return True
    if code.required:
        raise FerHubError(
            f"{reference}: this model needs its own Python code to load ({code.describe()}), which fer-hub does not "
            f"run unless asked; {TRUST_HINT}"
        )
    return False
