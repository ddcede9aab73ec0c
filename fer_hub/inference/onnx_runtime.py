"""Run an exported `.onnx` file with ONNX Runtime, with the processor its metadata describes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime

from ..checks import describe_kind as _kind
from ..errors import FerHubError
from ..models.face_pixels import FacePixels
from ..models.limits import MAX_INPUT_SIDE, check_processor_limits


def cpu_session(path: str | Path, threads: int | None = 1) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session on the CPU with `threads` intra-op threads (None: ONNX Runtime's default, a thread
    per core; one thread is fastest for the faces of a photo and leaves the other cores to the rest)."""
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxLogits:
    """pixel_values (N, 1, H, W) float32 -> logits (N, 7) through an ONNX Runtime session (a `LogitsFunction`
    of `fer_hub.inference.classifier`)."""

    def __init__(self, path: str | Path, threads: int | None = 1):
        if not Path(path).is_file():
            what = "no such ONNX file" if not Path(path).exists() else f"{_kind(Path(path))}, not an ONNX file"
            raise FerHubError(f"{path}: {what}")
        self.path = path
        try:
            self.session = cpu_session(path, threads)
        except Exception as error:  # onnxruntime raises its own types for unreadable and invalid files
            raise FerHubError(f"{path}: not a readable ONNX model ({error})") from None
        self.metadata = self.session.get_modelmeta().custom_metadata_map
        if "fer_hub.image_processor" not in self.metadata:
            raise FerHubError(f"{path}: not exported by `fer-hub export-onnx` (no image processor metadata)")
        self._settings = self._processor_settings()
        self._id2label = self._labels()
        self._check_input_shape()

    def _field(self, key: str, expected: type):
        """The JSON value of metadata field `key`, of type `expected`; a FerHubError naming the file and field."""
        try:
            value = json.loads(self.metadata[key])
        except KeyError:
            raise FerHubError(f"{self.path}: metadata field {key!r} is missing") from None
        except ValueError as error:
            raise FerHubError(f"{self.path}: metadata field {key!r} is not valid JSON ({error})") from None
        if not isinstance(value, expected):
            raise FerHubError(f"{self.path}: metadata field {key!r} is not a JSON {expected.__name__}")
        return value

    def _processor_settings(self) -> dict:
        key = "fer_hub.image_processor"
        settings = self._field(key, dict)
        size = settings.get("size")
        if not (isinstance(size, dict) and all(isinstance(size.get(side), int) for side in ("height", "width"))):
            raise FerHubError(f'{self.path}: metadata field {key!r}: \'size\' must be {{"height": N, "width": N}}')
        if min(size["height"], size["width"]) < 1:
            raise FerHubError(f"{self.path}: metadata field {key!r}: 'size' must be at least 1 pixel a side")
        check_processor_limits(settings, f"{self.path}: metadata field {key!r}")
        for name in ("image_mean", "image_std"):
            value = settings.get(name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise FerHubError(f"{self.path}: metadata field {key!r}: {name!r} must be a number")
        return settings

    def _labels(self) -> dict[int, str]:
        key = "fer_hub.id2label"
        labels = self._field(key, dict)
        try:
            return {int(index): str(name) for index, name in labels.items()}
        except ValueError:
            raise FerHubError(f"{self.path}: metadata field {key!r}: its keys must be class indices") from None

    def _check_input_shape(self) -> None:
        """The graph's fixed input height and width (dynamic ones are set by the processor) within MAX_INPUT_SIDE."""
        for tensor in self.session.get_inputs():
            for side in tensor.shape[2:]:
                if isinstance(side, int) and side > MAX_INPUT_SIDE:
                    raise FerHubError(
                        f"{self.path}: input {tensor.name!r} is {side:,} pixels a side, over fer-hub's limit of "
                        f"{MAX_INPUT_SIDE:,}"
                    )

    @property
    def id2label(self) -> dict[int, str]:
        return self._id2label

    @property
    def parameters(self) -> int | None:
        """The exported model's parameter count, when its metadata gives one."""
        value = self.metadata.get("fer_hub.parameters", "")
        return int(value) if value.isdigit() else None

    def __call__(self, pixel_values: np.ndarray) -> np.ndarray:
        return self.session.run(["logits"], {"pixel_values": np.ascontiguousarray(pixel_values, dtype=np.float32)})[0]

    def face_pixels(self) -> FacePixels:
        """The preprocessing the metadata describes."""
        settings = self._settings
        return FacePixels(dict(settings["size"]), float(settings["image_mean"]), float(settings["image_std"]))


def load_onnx(path: str | Path, threads: int | None = 1) -> tuple[OnnxLogits, FacePixels]:
    """The file's logits function (`threads` intra-op threads; None: ONNX Runtime's default, all cores) and the
    preprocessing its metadata describes."""
    logits = OnnxLogits(path, threads=threads)
    return logits, logits.face_pixels()
