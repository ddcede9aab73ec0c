"""Limits on the sizes a model folder, a Hub repo or an `.onnx` file asks for, checked on the JSON they bring
before anything is built or allocated: a config of 100,000 layers or a processor of 60000 x 60000 pixels is one
FerHubError naming the file, the field and the limit, not minutes of work ending in a MemoryError.

The limits are far above every architecture fer-hub trains and every image classifier it can start from (ViT-Huge:
32 layers, hidden size 1280, intermediate size 5120; ResNet-101: 33 blocks; inputs of 224-518 pixels)."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import FerHubError

MAX_LAYERS = 256  # num_hidden_layers, num_layers, ... and the sum of `depths`
MAX_WIDTH = 16_384  # hidden_size, channels of any layer, dense layers
MAX_INTERMEDIATE_SIZE = 65_536  # a transformer's feed-forward width
MAX_KERNEL_SIZE = 64
MAX_LIST_ITEMS = 256  # entries of a list of widths (stage_channels, hidden_sizes, ...)
MAX_INPUT_SIDE = 1024  # pixels a side of a model's input: config image_size, processor size, ONNX input
MAX_PARAMETERS = 2_000_000_000  # a transformer's estimated parameter count (8 GB of float32 weights)

LAYER_FIELDS = ("num_hidden_layers", "num_layers", "num_dense_layers", "convs_per_stage", "num_attention_heads")
WIDTH_FIELDS = ("hidden_size", "dense_size", "pooler_output_size", "embedding_size", "num_channels", "encoder_stride")
WIDTH_LIST_FIELDS = ("conv_channels", "stage_channels", "stem_channels", "block_channels", "hidden_sizes")
CONFIG_LIMITS = {
    **dict.fromkeys(LAYER_FIELDS, MAX_LAYERS),
    **dict.fromkeys(WIDTH_FIELDS, MAX_WIDTH),
    "intermediate_size": MAX_INTERMEDIATE_SIZE,
    "kernel_size": MAX_KERNEL_SIZE,
    "image_size": MAX_INPUT_SIDE,
    "patch_size": MAX_INPUT_SIDE,
}
NESTED_CONFIGS = ("vision_config", "backbone_config", "encoder", "text_config")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_value(source: str, field: str, value, limit: int) -> None:
    if _is_number(value) and value > limit:
        raise FerHubError(f"{source}: {field} is {value:,}, over fer-hub's limit of {limit:,}")


def _flat_numbers(value, depth: int = 0) -> list:
    """The numbers of a (nested) list of numbers, e.g. vgg's block_channels [[64, 64], [128, 128]]."""
    if isinstance(value, (list, tuple)) and depth < 3:
        return [number for item in value for number in _flat_numbers(item, depth + 1)]
    return [value] if _is_number(value) else []


def check_config_limits(config: Mapping, source: str) -> None:
    """A FerHubError naming `source` (the config file), the field and the limit when a config.json asks for a
    model larger than any fer-hub loads: too many layers, too wide a layer, too large an input or (for a
    transformer) too many parameters. Fields the config lacks or gives as non-numbers are left to transformers."""
    _check_config(config, source, prefix="")


def _check_config(config: Mapping, source: str, prefix: str) -> None:
    for field, limit in CONFIG_LIMITS.items():
        value = config.get(field)
        if isinstance(value, (list, tuple)) and field in ("image_size", "patch_size"):  # [height, width]
            for number in _flat_numbers(value):
                _check_value(source, prefix + field, number, limit)
        else:
            _check_value(source, prefix + field, value, limit)
    for field in (*WIDTH_LIST_FIELDS, "depths"):
        value = config.get(field)
        if not isinstance(value, (list, tuple)):
            continue
        numbers = _flat_numbers(value)
        if len(numbers) > MAX_LIST_ITEMS:
            raise FerHubError(
                f"{source}: {prefix}{field} has {len(numbers):,} entries, over fer-hub's limit of {MAX_LIST_ITEMS:,}"
            )
        if field == "depths":
            _check_value(source, f"{prefix}depths (their sum)", sum(numbers), MAX_LAYERS)
        else:
            for number in numbers:
                _check_value(source, f"{prefix}{field} (an entry)", number, MAX_WIDTH)
    estimate = estimated_parameters(config)
    if estimate > MAX_PARAMETERS:
        raise FerHubError(
            f"{source}: {prefix}its sizes make about {estimate:,.0f} parameters, over fer-hub's limit of "
            f"{MAX_PARAMETERS:,} (layers, hidden_size, intermediate_size, channels)"
        )
    for field in NESTED_CONFIGS:
        if isinstance(config.get(field), Mapping):
            _check_config(config[field], source, prefix=f"{prefix}{field}.")


def estimated_parameters(config: Mapping) -> float:
    """A rough upper estimate of a config's weight count, from the fields it sets (missing ones count as 0 or 1):
    a transformer's layers x (attention + feed-forward), a conv net's kernel x channels^2 per convolution, and
    recurrent or dense layers x hidden_size^2."""

    def number(field: str, default: float = 0) -> float:
        value = config.get(field)
        return value if _is_number(value) else default

    hidden = number("hidden_size")
    estimate = number("num_hidden_layers") * (
        4 * hidden * hidden + 2 * hidden * number("intermediate_size", 4 * hidden)
    )
    convs = max(1, number("convs_per_stage", 1))
    kernel = number("kernel_size", 3)
    for field in WIDTH_LIST_FIELDS:
        estimate += kernel * kernel * convs * sum(width * width for width in _flat_numbers(config.get(field)))
    estimate += 8 * (number("num_layers") + number("num_dense_layers")) * max(hidden, number("dense_size")) ** 2
    return estimate


def _sides(size) -> list:
    """The pixel counts of a processor's `size` / `crop_size`: an int, or a dict of height/width/shortest_edge/..."""
    if isinstance(size, Mapping):
        return [value for value in size.values() if _is_number(value)]
    if isinstance(size, (list, tuple)):
        return [value for value in size if _is_number(value)]
    return [size] if _is_number(size) else []


def check_processor_limits(processor: Mapping, source: str) -> None:
    """A FerHubError naming `source` and the field when an image processor's config (preprocessor_config.json, or
    an ONNX file's processor metadata) resizes images to more than MAX_INPUT_SIDE pixels a side."""
    for field in ("size", "crop_size"):
        for side in _sides(processor.get(field)):
            if side > MAX_INPUT_SIDE:
                raise FerHubError(
                    f"{source}: {field} {side:,} pixels a side is over fer-hub's limit of {MAX_INPUT_SIDE:,}"
                )
