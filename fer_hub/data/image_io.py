"""Read a user's image file safely: an RGB PIL image of bounded size, or a `FerHubError` naming the file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..checks import describe_kind
from ..errors import FerHubError
from ..models.face_pixels import to_grayscale

MAX_PIXELS = 50_000_000  # larger images are refused before decoding (decompression-bomb guard)
MAX_SIDE = 2048  # larger images are downscaled to this longer side after decoding
HIGH_BIT_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


@dataclass(frozen=True)
class LoadedImage:
    """An image ready for detection and drawing, and how much it was shrunk from the file."""

    image: Image.Image  # RGB, longer side <= MAX_SIDE
    scale: float  # side in the file / side of `image` (1.0 when not downscaled)


def read_image(path: str | Path, name: str | None = None) -> LoadedImage:
    """Decode the first frame of an image file into RGB, downscaled to MAX_SIDE; `name` is how errors call it."""
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise FerHubError(
            f"{name}: " + (f"{describe_kind(path)}, not an image file" if path.exists() else "no such file")
        )
    if path.stat().st_size == 0:
        raise FerHubError(f"{name}: the file is empty (0 bytes)")
    try:
        with Image.open(path) as image:
            _check_pixel_count(image, name)
            original_side = max(image.size)
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced scale
            rgb = to_rgb(ImageOps.exif_transpose(image))
    except FerHubError:
        raise
    except Image.DecompressionBombError:
        raise FerHubError(f"{name}: the image is too large (over {MAX_PIXELS:,} pixels)") from None
    except Exception as error:  # Pillow raises many types for malformed files; none may reach the user raw
        raise FerHubError(f"{name}: not a readable image ({_describe(error)})") from None
    rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return LoadedImage(rgb, original_side / max(rgb.size))


def _check_pixel_count(image: Image.Image, name: str) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise FerHubError(f"{name}: the image is too large ({width} x {height} pixels; limit {MAX_PIXELS:,} pixels)")
    if width == 0 or height == 0:
        raise FerHubError(f"{name}: the image has no pixels ({width} x {height})")


def _describe(error: Exception) -> str:
    text = str(error)
    if "truncated" in text or isinstance(error, EOFError):
        return "the file is truncated or corrupt"
    if isinstance(error, Image.UnidentifiedImageError):
        return "not an image format Pillow recognises"
    return text or type(error).__name__


def to_rgb(image: Image.Image) -> Image.Image:
    """An 8-bit RGB copy of any PIL image: 16-bit and float scaled, transparency composited on white
    (as the model sees it), CMYK and palettes converted. Animated images give their current frame."""
    if image.mode in HIGH_BIT_DEPTH_MODES:
        gray = np.clip(np.rint(to_grayscale(image)), 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        white = Image.new("RGBA", image.size, "white")
        return Image.alpha_composite(white, image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")
