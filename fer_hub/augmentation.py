"""On-the-fly augmentation of grayscale faces (PIL), as in the study plus random crops and erasing."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class AugmentationConfig:
    rotation: float = 10.0  # max degrees either way
    shift: float = 0.1  # max fraction of the side
    shear: float = 0.1  # max shear factor
    zoom: float = 0.1  # max relative zoom in or out
    horizontal_flip: bool = True
    crop_padding: int = 4  # pad by this much (edge pixels) and crop back at a random offset
    erasing: float = 0.25  # probability of erasing one random rectangle (2-20% of the area)


def _affine(image: Image.Image, config: AugmentationConfig, rng: random.Random) -> Image.Image:
    """Rotate, shear, zoom and shift about the centre in one resampling."""
    width, height = image.size
    angle = math.radians(rng.uniform(-config.rotation, config.rotation))
    shear = rng.uniform(-config.shear, config.shear)
    scale = rng.uniform(1 - config.zoom, 1 + config.zoom)
    dx, dy = (rng.uniform(-config.shift, config.shift) * side for side in (width, height))
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    # Inverse map: output (x, y) -> input, composed as rotation/zoom then shear.
    a, b = cos, sin + shear * cos
    d, e = -sin, cos - shear * sin
    cx, cy = width / 2, height / 2
    c = cx - a * (cx + dx) - b * (cy + dy)
    f = cy - d * (cx + dx) - e * (cy + dy)
    return image.transform(image.size, Image.Transform.AFFINE, (a, b, c, d, e, f), Image.Resampling.BILINEAR)


def _random_crop(pixels: np.ndarray, padding: int, rng: random.Random) -> np.ndarray:
    padded = np.pad(pixels, padding, mode="edge")
    top, left = rng.randint(0, 2 * padding), rng.randint(0, 2 * padding)
    return padded[top : top + pixels.shape[0], left : left + pixels.shape[1]]


def _erase(pixels: np.ndarray, rng: random.Random) -> np.ndarray:
    height, width = pixels.shape
    area = rng.uniform(0.02, 0.2) * height * width
    aspect = math.exp(rng.uniform(math.log(0.3), math.log(3.3)))
    h = min(height, int(round(math.sqrt(area * aspect))))
    w = min(width, int(round(math.sqrt(area / aspect))))
    top, left = rng.randint(0, height - h), rng.randint(0, width - w)
    pixels = pixels.copy()
    pixels[top : top + h, left : left + w] = rng.randint(0, 255)
    return pixels


def augment(image: Image.Image, config: AugmentationConfig, rng: random.Random) -> Image.Image:
    """A randomly transformed copy of a grayscale ("L") image of the same size."""
    if config.horizontal_flip and rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    image = _affine(image, config, rng)
    pixels = np.asarray(image)
    if config.crop_padding:
        pixels = _random_crop(pixels, config.crop_padding, rng)
    if rng.random() < config.erasing:
        pixels = _erase(pixels, rng)
    return Image.fromarray(np.ascontiguousarray(pixels))
