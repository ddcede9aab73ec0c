"""`fer-hub export-onnx`: a model folder -> one self-describing ONNX file, fp32 or static int8.

The file carries what inference needs beside the graph, as metadata: the labels and the image processor's size,
mean and std, so `fer-hub predict --model model.onnx` needs nothing else.

int8 is static QDQ quantization (uint8 activations, int8 per-channel weights): activation ranges calibrated on
CALIBRATION_FACES Training faces (percentiles of their histograms, so a few outliers do not widen a range), then both
graphs scored on the PublicTest faces. A convolution of the one-channel gray input stays fp32: a single input channel
makes a poor int8 matrix product, and fp32 is faster there (the default model: 0.26 instead of 0.30 ms a face). The int8 graph is written only
when it stays within MAX_ACCURACY_DROP of fp32; otherwise the fp32 graph is, and the result says why.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.fer2013 import dataset_split, load_fer2013
from ..errors import FerHubError, ParameterError
from ..optional import require
from ..output_paths import check_output_file
from .face_pixels import FacePixels
from .factory import load_checkpoint
from .image_processing_fer import FerImageProcessor
from .pretrained import resolve_model

OPSET = 17
CALIBRATION_FACES = 512  # Training faces whose activations set the int8 ranges
CALIBRATION_SEED = 0
MAX_ACCURACY_DROP = 0.003  # PublicTest accuracy int8 may lose against fp32 (0.3 points)


class LogitsOnly(torch.nn.Module):
    """pixel_values -> logits, the one output an ONNX graph needs."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).logits


@dataclass(frozen=True)
class ExportResult:
    path: Path
    variant: str  # "fp32" or "int8"
    fp32_accuracy: float | None = None  # PublicTest accuracy of each graph, when int8 was tried
    int8_accuracy: float | None = None

    def describe(self) -> str:
        size = f"{self.path.stat().st_size / 1e6:.2f} MB"
        if self.int8_accuracy is None:
            return f"wrote {self.path} (fp32, {size})"
        scores = f"PublicTest accuracy fp32 {self.fp32_accuracy:.4f}, int8 {self.int8_accuracy:.4f}"
        if self.variant == "int8":
            return f"wrote {self.path} (static int8, {size}; {scores})"
        return f"wrote {self.path} (fp32, {size}): int8 lost more than {MAX_ACCURACY_DROP * 100:.1f} points ({scores})"


def model_metadata(model: torch.nn.Module, processor: FerImageProcessor) -> dict[str, str]:
    """What inference needs beside the graph (labels, processor) and what the demo's panel shows (parameters)."""
    return {
        "fer_hub.id2label": json.dumps({str(k): v for k, v in model.config.id2label.items()}),
        "fer_hub.image_processor": json.dumps(processor.to_dict()),
        "fer_hub.model_type": model.config.model_type,
        "fer_hub.parameters": json.dumps(sum(parameter.numel() for parameter in model.parameters())),
    }


def export_onnx(
    model_reference: str,
    output: str | Path,
    int8: bool = False,
    data: str | None = None,
    trust_remote_code: bool = False,
) -> ExportResult:
    """Export to `output` atomically (a failed export leaves no file behind). With `int8`, `data` is a FER2013 CSV
    with Training and PublicTest rows (calibration and the accuracy check). Needs the `onnx` extra: without the
    onnx package, a FerHubError naming it."""
    onnx = require("onnx", "onnx", "ONNX export")
    output = Path(output)
    if output.suffix != ".onnx":
        raise FerHubError(f"{output}: the output file must end in .onnx")
    if not output.parent.is_dir():
        raise FerHubError(f"{output.parent}: no such folder for the output file")
    if int8 and not data:
        raise ParameterError("data", "int8 export needs FER2013 faces: Training rows calibrate, PublicTest rows check")
    check_output_file(output)
    model, processor = load_checkpoint(resolve_model(model_reference), trust_remote_code=trust_remote_code)
    faces = _export_faces(data, processor.face_pixels()) if int8 else None
    wrapper = LogitsOnly(model).eval()
    example = torch.zeros(1, 1, processor.size["height"], processor.size["width"])
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".export-") as staging:
        fp32_path = Path(staging) / "model.onnx"
        torch.onnx.export(
            wrapper,
            (example,),
            str(fp32_path),
            input_names=["pixel_values"],
            output_names=["logits"],
            dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
        result = ExportResult(output, "fp32")
        final_path = fp32_path
        if faces is not None:
            int8_path = Path(staging) / "model.int8.onnx"
            _quantize_static(fp32_path, int8_path, faces.calibration, Path(staging))
            fp32_accuracy, int8_accuracy = (faces.accuracy(path) for path in (fp32_path, int8_path))
            keep = fp32_accuracy - int8_accuracy <= MAX_ACCURACY_DROP
            result = ExportResult(output, "int8" if keep else "fp32", fp32_accuracy, int8_accuracy)
            final_path = int8_path if keep else fp32_path
        graph = onnx.load(str(final_path))
        for key, value in model_metadata(model, processor).items():
            graph.metadata_props.add(key=key, value=value)
        onnx.save(graph, str(final_path))
        os.replace(final_path, output)
    return result


@dataclass(frozen=True)
class _ExportFaces:
    calibration: np.ndarray  # (CALIBRATION_FACES, 1, H, W) Training pixel values
    validation: np.ndarray  # every PublicTest face
    labels: np.ndarray

    def accuracy(self, path: Path) -> float:
        """PublicTest accuracy of the graph at `path`."""
        from ..inference.classifier import batches
        from ..inference.onnx_runtime import cpu_session

        session = cpu_session(path, threads=None)
        logits = [session.run(None, {"pixel_values": np.stack(batch)})[0] for batch in batches(self.validation, 512)]
        return float((np.concatenate(logits).argmax(axis=1) == self.labels).mean())


def _export_faces(data: str, pixels: FacePixels) -> _ExportFaces:
    dataset = load_fer2013(data)
    training, validation = dataset_split(dataset, "train", data), dataset_split(dataset, "validation", data)
    rows = np.random.default_rng(CALIBRATION_SEED).choice(
        len(training), min(CALIBRATION_FACES, len(training)), replace=False
    )
    labels = np.asarray(validation["label"])
    if (labels < 0).any():
        raise ParameterError("data", f"{data}: its PublicTest rows have no labels to check the int8 graph against")
    return _ExportFaces(
        calibration=pixels.pixel_values(training.select(sorted(rows))["image"]),
        validation=pixels.pixel_values(validation["image"]),
        labels=labels,
    )


def _quantize_static(fp32_path: Path, int8_path: Path, calibration: np.ndarray, staging: Path) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    from ..inference.classifier import batches

    # equal batches: the histogram calibrator stacks each batch's activations into one array
    size = max(divisor for divisor in range(1, 65) if len(calibration) % divisor == 0)

    class Batches(CalibrationDataReader):
        def __init__(self):
            self.batches = ({"pixel_values": np.stack(batch)} for batch in batches(calibration, size))

        def get_next(self):
            return next(self.batches, None)

    # shape inference and graph fusions first, as onnxruntime advises (it logs a warning otherwise)
    prepared_path = staging / "model.prepared.onnx"
    quant_pre_process(str(fp32_path), str(prepared_path))
    with contextlib.redirect_stdout(io.StringIO()):  # the histogram calibrator prints its progress
        quantize_static(
            str(prepared_path),
            str(int8_path),
            Batches(),
            nodes_to_exclude=_single_channel_convolutions(prepared_path),
            calibrate_method=CalibrationMethod.Percentile,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,  # uint8 activations x int8 weights: the fast VNNI kernels on x86
            weight_type=QuantType.QInt8,
        )


def _single_channel_convolutions(path: Path) -> list[str]:
    """The names of the graph's ungrouped convolutions with one input channel (the stem on gray faces)."""
    import onnx

    graph = onnx.load(str(path)).graph
    shapes = {initializer.name: list(initializer.dims) for initializer in graph.initializer}
    return [
        node.name
        for node in graph.node
        if node.op_type == "Conv"
        and next((attribute.i for attribute in node.attribute if attribute.name == "group"), 1) == 1
        and shapes.get(node.input[1], [])[1:2] == [1]
    ]
