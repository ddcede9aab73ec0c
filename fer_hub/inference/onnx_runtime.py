"""Run an exported `.onnx` file with ONNX Runtime, with the processor its metadata describes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import FerHubError
from ..models.image_processing_fer import FerImageProcessor


class OnnxLogits:
    """pixel_values (N, 1, H, W) float32 -> logits (N, 7) through an ONNX Runtime session (a `LogitsFunction`
    of `fer_hub.inference.classifier`)."""

    def __init__(self, path: str | Path, threads: int | None = None):
        import onnxruntime

        if not Path(path).is_file():
            raise FerHubError(f"{path}: no such ONNX file")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own types for unreadable and invalid files
            raise FerHubError(f"{path}: not a readable ONNX model ({error})") from None
        self.metadata = self.session.get_modelmeta().custom_metadata_map
        if "fer_hub.image_processor" not in self.metadata:
            raise FerHubError(f"{path}: not exported by `fer-hub export-onnx` (no image processor metadata)")

    @property
    def id2label(self) -> dict[int, str]:
        return {int(index): name for index, name in json.loads(self.metadata["fer_hub.id2label"]).items()}

    def __call__(self, pixel_values: np.ndarray) -> np.ndarray:
        return self.session.run(["logits"], {"pixel_values": np.ascontiguousarray(pixel_values, dtype=np.float32)})[0]

    def image_processor(self) -> FerImageProcessor:
        settings = json.loads(self.metadata["fer_hub.image_processor"])
        return FerImageProcessor(
            size=settings["size"], image_mean=settings["image_mean"], image_std=settings["image_std"]
        )


def load_onnx(path: str | Path, threads: int | None = None) -> tuple[OnnxLogits, FerImageProcessor]:
    """The file's logits function and the image processor its metadata describes."""
    logits = OnnxLogits(path, threads=threads)
    return logits, logits.image_processor()
