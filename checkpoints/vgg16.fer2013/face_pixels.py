"""Any image (PIL, numpy, torch; any size and mode) -> the normalized grayscale `pixel_values` fer-hub's models read:
gray levels, resized, rescaled to [0, 1] and normalized. Only numpy and PIL, so the ONNX Runtime path runs without
torch or transformers; `FerImageProcessor` (image_processing_fer.py) is these steps for transformers. Self-contained:
it travels with model folders next to image_processing_fer.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

# Mean and std of FER2013 Training pixels, rescaled to [0, 1].
FER2013_MEAN = 0.5077
FER2013_STD = 0.2550
DEFAULT_SIZE = {"height": 48, "width": 48}
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _composite_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    alpha = alpha[..., None] / 255.0
    return rgb * alpha + 255.0 * (1.0 - alpha)


def _pil_to_gray(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(image, dtype=np.float32) / 257.0
    if image.mode == "I":  # 32-bit integers: 16-bit data when any value exceeds 255
        pixels = np.asarray(image, dtype=np.float32)
        return pixels / 257.0 if pixels.size and pixels.max() > 255 else pixels
    if image.mode == "F":
        return _float_to_255(np.asarray(image, dtype=np.float32))
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
        return _composite_on_white(rgba[..., :3], rgba[..., 3]) @ LUMA_WEIGHTS
    if image.mode != "L":
        image = image.convert("RGB").convert("L")
    return np.asarray(image, dtype=np.float32)


def _float_to_255(array: np.ndarray) -> np.ndarray:
    return array * 255.0 if array.size and float(np.nanmax(array)) <= 1.0 else array


def _array_to_gray(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[-1] not in (1, 3, 4) and array.shape[0] in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ValueError(f"cannot read an image from an array of shape {tuple(array.shape)}")
    if array.dtype == np.uint16:
        array = array.astype(np.float32) / 257.0
    elif array.dtype == np.bool_ or np.issubdtype(array.dtype, np.floating):
        array = _float_to_255(array.astype(np.float32))
    else:
        array = array.astype(np.float32)
    if array.ndim == 2:
        return array
    if array.shape[-1] == 4:
        return _composite_on_white(array[..., :3], array[..., 3]) @ LUMA_WEIGHTS
    return array @ LUMA_WEIGHTS


def to_grayscale(image) -> np.ndarray:
    """A 2-D float32 array of gray levels in [0, 255] from a PIL image, a numpy array or a torch tensor."""
    if isinstance(image, Image.Image):
        return _pil_to_gray(image)
    if type(image).__module__.startswith("torch"):  # a tensor, without importing torch
        image = image.detach().cpu().numpy()
    if isinstance(image, np.ndarray):
        return _array_to_gray(image)
    raise TypeError(f"expected a PIL image, numpy array or torch tensor, got {type(image).__name__}")


@dataclass(frozen=True)
class FacePixels:
    """The preprocessing of one model: gray levels resized to `size` ({"height", "width"}), then normalized with
    `image_mean` and `image_std` (of pixels rescaled to [0, 1])."""

    size: dict
    image_mean: float = FER2013_MEAN
    image_std: float = FER2013_STD

    def resized_gray(self, image) -> np.ndarray:
        """One image -> its 8-bit gray levels at the model's size, a (height, width) uint8 array."""
        if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 2:
            gray = image  # 8-bit gray already: the usual training case
        elif isinstance(image, Image.Image) and image.mode == "L":
            gray = np.asarray(image)
        else:
            gray = np.clip(np.rint(to_grayscale(image)), 0, 255).astype(np.uint8)
        target = (self.size["height"], self.size["width"])
        if gray.shape != target:
            gray = np.asarray(Image.fromarray(gray).resize(target[::-1], Image.Resampling.BILINEAR, reducing_gap=3.0))
        return gray

    def normalize(self, gray: np.ndarray) -> np.ndarray:
        """8-bit gray levels (any shape) -> float32 model input values."""
        return (gray.astype(np.float32) / 255.0 - self.image_mean) / self.image_std

    def to_model_input(self, image) -> np.ndarray:
        """One image -> a (1, height, width) float32 array, normalized."""
        return self.normalize(self.resized_gray(image))[None]

    def pixel_values(self, images: Sequence) -> np.ndarray:
        """Images -> a (N, 1, height, width) float32 array."""
        return np.stack([self.to_model_input(image) for image in images])
