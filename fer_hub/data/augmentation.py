"""On-the-fly augmentation of a batch of processed faces, as in the study plus random crops and erasing.

Every image gets its own random draw, but the batch is transformed at once: flip, rotation, shear, zoom,
shift and the random crop (a whole-pixel shift with edge padding) are one affine resampling (`grid_sample`);
erasing fills one rectangle. The per-image parameters are drawn with numpy (seeded from torch's generator,
so `set_seed` makes runs repeatable): a handful of array ops per batch, so even the fastest model trains at
the speed of its own forward and backward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentationConfig:
    rotation: float = 10.0  # max degrees either way
    shift: float = 0.1  # max fraction of the side
    shear: float = 0.1  # max shear factor
    zoom: float = 0.1  # max relative zoom in or out
    horizontal_flip: bool = True
    crop_padding: int = 4  # pad by this much (edge pixels) and crop back at a random offset
    erasing: float = 0.25  # probability of erasing one random rectangle (2-20% of the area)


def augment_batch(
    pixel_values: torch.Tensor, config: AugmentationConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Randomly transformed copies of a batch (N, C, H, W) of images, same shape."""
    rng = np.random.default_rng(int(torch.randint(2**62, (1,), generator=generator)))
    transformed = _affine(pixel_values, config, rng)
    return _erase(transformed, config.erasing, rng) if config.erasing else transformed


def _affine(images: torch.Tensor, config: AugmentationConfig, rng: np.random.Generator) -> torch.Tensor:
    n, _, height, width = images.shape
    angle = np.radians(rng.uniform(-config.rotation, config.rotation, n))
    shear = rng.uniform(-config.shear, config.shear, n)
    scale = 1 + rng.uniform(-config.zoom, config.zoom, n)
    flip = np.where(rng.random(n) < 0.5, -1.0, 1.0) if config.horizontal_flip else np.ones(n)
    # Shifts in grid units (the image spans [-1, 1]): a fraction of the side, plus the crop's whole pixels.
    shift_x, shift_y = (
        2 * rng.uniform(-config.shift, config.shift, n)
        + 2 * rng.integers(-config.crop_padding, config.crop_padding + 1, n) / side
        for side in (width, height)
    )
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    # Output -> input map, per image: rotation and zoom, then shear; the flip mirrors the output's x.
    rows = np.stack([cos * flip, sin + shear * cos, shift_x, -sin * flip, cos - shear * sin, shift_y])
    a, b, c, d, e, f = torch.from_numpy(rows.astype(np.float32)).to(images.dtype).view(6, n, 1, 1)
    x, y = _pixel_centres(width).view(1, 1, width), _pixel_centres(height).view(1, height, 1)
    grid = torch.empty(n, height, width, 2, dtype=images.dtype)
    torch.add(a * x, b * y + c, out=grid[..., 0])
    torch.add(d * x, e * y + f, out=grid[..., 1])
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _pixel_centres(side: int) -> torch.Tensor:
    """Grid coordinates of the pixel centres along one side (grid_sample's align_corners=False)."""
    return (torch.arange(side, dtype=torch.float32) * 2 + 1) / side - 1


def _erase(images: torch.Tensor, probability: float, rng: np.random.Generator) -> torch.Tensor:
    """With `probability`, fill one rectangle of an image (2-20% of its area, aspect 0.3-3.3) with a random
    level between the batch's darkest and brightest. In place: `images` is the freshly resampled batch."""
    n, _, height, width = images.shape
    chosen = np.flatnonzero(rng.random(n) < probability)
    if not len(chosen):
        return images
    area = rng.uniform(0.02, 0.2, len(chosen)) * height * width
    aspect = np.exp(rng.uniform(math.log(0.3), math.log(3.3), len(chosen)))
    box_h = np.clip(np.round(np.sqrt(area * aspect)), 1, height).astype(int)
    box_w = np.clip(np.round(np.sqrt(area / aspect)), 1, width).astype(int)
    top = (rng.random(len(chosen)) * (height - box_h + 1)).astype(int)
    left = (rng.random(len(chosen)) * (width - box_w + 1)).astype(int)
    low, high = float(images.min()), float(images.max())
    levels = rng.uniform(low, high, len(chosen))
    for index, y, x, h, w, level in zip(chosen, top, left, box_h, box_w, levels, strict=True):
        images[index, :, y : y + h, x : x + w] = float(level)
    return images
