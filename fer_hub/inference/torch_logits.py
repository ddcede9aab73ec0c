"""A transformers image-classification model as a `LogitsFunction` of `fer_hub.inference.classifier`, on the device
it is on (pixel values go there, logits come back to the CPU as numpy)."""

from __future__ import annotations

import numpy as np
import torch
from transformers import PreTrainedModel


class TorchLogits:
    def __init__(self, model: PreTrainedModel, device: str = "cpu"):
        self.model = model.eval().to(device)

    @property
    def parameters(self) -> int:
        return sum(parameter.numel() for parameter in self.model.parameters())

    @torch.inference_mode()
    def __call__(self, pixel_values: np.ndarray) -> np.ndarray:
        device = next(self.model.parameters()).device
        return self.model(pixel_values=torch.from_numpy(pixel_values).to(device)).logits.float().cpu().numpy()
