"""`fer-hub export-onnx`: a model folder -> one self-describing ONNX file (fp32 or dynamic int8).

The file carries what inference needs beside the graph, as metadata: the labels and the image
processor's size, mean and std, so `fer-hub predict --model model.onnx` needs nothing else.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch

from ..errors import FerHubError
from ..optional import require
from ..output_paths import check_output_file
from .factory import load_checkpoint
from .image_processing_fer import FerImageProcessor
from .pretrained import resolve_model

OPSET = 17


class LogitsOnly(torch.nn.Module):
    """pixel_values -> logits, the one output an ONNX graph needs."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).logits


def processor_metadata(model_config, processor: FerImageProcessor) -> dict[str, str]:
    return {
        "fer_hub.id2label": json.dumps({str(k): v for k, v in model_config.id2label.items()}),
        "fer_hub.image_processor": json.dumps(processor.to_dict()),
        "fer_hub.model_type": model_config.model_type,
    }


def export_onnx(model_reference: str, output: str | Path, int8: bool = False, trust_remote_code: bool = False) -> Path:
    """Export to `output` atomically (a failed export leaves no file behind). Needs the `onnx` extra: without the
    onnx package, a FerHubError naming it."""
    onnx = require("onnx", "onnx", "ONNX export")
    output = Path(output)
    if output.suffix != ".onnx":
        raise FerHubError(f"{output}: the output file must end in .onnx")
    if not output.parent.is_dir():
        raise FerHubError(f"{output.parent}: no such folder for the output file")
    check_output_file(output)
    model, processor = load_checkpoint(resolve_model(model_reference), trust_remote_code=trust_remote_code)
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
        final_path = fp32_path
        if int8:
            from onnxruntime.quantization import QuantType, quant_pre_process, quantize_dynamic

            # shape inference and graph fusions first, as onnxruntime advises (it logs a warning otherwise)
            prepared_path = Path(staging) / "model.prepared.onnx"
            quant_pre_process(str(fp32_path), str(prepared_path))
            final_path = Path(staging) / "model.int8.onnx"
            quantize_dynamic(str(prepared_path), str(final_path), weight_type=QuantType.QInt8)
        graph = onnx.load(str(final_path))
        for key, value in processor_metadata(model.config, processor).items():
            graph.metadata_props.add(key=key, value=value)
        onnx.save(graph, str(final_path))
        os.replace(final_path, output)
    return output
