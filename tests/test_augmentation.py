"""Batched on-the-fly augmentation, and the training split that feeds it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fer_hub import FerImageProcessor, load_fer2013
from fer_hub.data.augmentation import AugmentationConfig, augment_batch
from fer_hub.training.train import with_transform

TINY_CSV = Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz"
NOTHING = dict(rotation=0, shift=0, shear=0, zoom=0, horizontal_flip=False, crop_padding=0, erasing=0)


@pytest.fixture
def batch() -> torch.Tensor:
    return torch.rand(64, 1, 48, 48, generator=torch.Generator().manual_seed(0))


def seeded(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_no_transform_leaves_the_images_unchanged(batch):
    assert torch.allclose(augment_batch(batch, AugmentationConfig(**NOTHING), seeded()), batch, atol=1e-5)


def test_flip_mirrors_about_half_of_the_images(batch):
    out = augment_batch(batch, AugmentationConfig(**{**NOTHING, "horizontal_flip": True}), seeded())
    mirrored = [torch.allclose(o, b.flip(-1), atol=1e-5) for o, b in zip(out, batch, strict=True)]
    kept = [torch.allclose(o, b, atol=1e-5) for o, b in zip(out, batch, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True))
    assert 16 < sum(mirrored) < 48


def test_random_crop_shifts_by_whole_pixels_with_edge_padding(batch):
    padding = 3
    out = augment_batch(batch, AugmentationConfig(**{**NOTHING, "crop_padding": padding}), seeded())
    padded = F.pad(batch, [padding] * 4, mode="replicate")
    offsets = set()
    for o, p in zip(out, padded, strict=True):
        matches = [
            (dy, dx)
            for dy in range(2 * padding + 1)
            for dx in range(2 * padding + 1)
            if torch.allclose(o, p[:, dy : dy + 48, dx : dx + 48], atol=1e-5)
        ]
        assert matches, "every image is a crop of its padded self"
        offsets.update(matches)
    assert len(offsets) > 10


def test_erasing_fills_one_rectangle_of_2_to_20_percent(batch):
    out = augment_batch(batch, AugmentationConfig(**{**NOTHING, "erasing": 1.0}), seeded())
    for o, b in zip(out, batch, strict=True):
        rows, cols = np.nonzero(((o - b).abs() > 1e-4).numpy()[0])
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        area = height * width
        assert 0.01 * 48 * 48 <= area <= 0.21 * 48 * 48
        block = o[0, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert torch.all(block == block[0, 0]), "one level fills the rectangle"


def test_full_augmentation_is_seeded_varied_and_keeps_shape(batch):
    config = AugmentationConfig()
    first, again = augment_batch(batch, config, seeded(5)), augment_batch(batch, config, seeded(5))
    assert first.shape == batch.shape and first.dtype == batch.dtype
    assert torch.equal(first, again)
    assert not torch.allclose(first, augment_batch(batch, config, seeded(6)))
    assert (first - batch).abs().mean() > 0.05


def test_training_split_serves_exactly_what_the_processor_gives():
    split = load_fer2013(TINY_CSV)["train"]
    processor = FerImageProcessor()
    served = with_transform(split, processor, None)[:10]
    expected = np.stack([processor.to_model_input(image) for image in split[:10]["image"]])
    np.testing.assert_array_equal(served["pixel_values"].numpy(), expected)
    assert served["labels"].tolist() == split[:10]["label"]
    augmented = with_transform(split, processor, AugmentationConfig())[:10]["pixel_values"]
    assert augmented.shape == (10, 1, 48, 48) and not torch.allclose(augmented, served["pixel_values"])
