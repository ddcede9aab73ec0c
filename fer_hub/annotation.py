"""Pictures of results: faces boxed and labelled on the image, and per-face probability bars as HTML."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw, ImageFont

from .inference import Face
from .labels import LABELS

COLORS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfa100")
MIN_DISPLAY_SIDE = 256  # smaller images (e.g. 48x48 crops) are enlarged for display


def draw_faces(image: Image.Image, faces: list[Face]) -> Image.Image:
    """A copy of `image` (small ones enlarged) with each face boxed and labelled 'N label P%' in its own color."""
    zoom = math.ceil(MIN_DISPLAY_SIDE / max(image.size))  # 1 unless the image is small
    annotated = image.resize((image.width * zoom, image.height * zoom), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(annotated)
    side = max(annotated.size)
    font = ImageFont.load_default(size=max(14, side // 32))
    line = max(2, side // 300)
    for number, face in enumerate(faces, start=1):
        color = COLORS[(number - 1) % len(COLORS)]
        x, y, w, h = (value * zoom for value in face.box)
        draw.rectangle((x, y, x + w - 1, y + h - 1), outline=color, width=line)
        text = f"{number} {face.label} {face.scores[face.label]:.0%}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        label_height = bottom - top + 2 * line
        label_y = y - label_height if y >= label_height else y  # above the box, or inside it at the top edge
        draw.rectangle((x, label_y, x + right - left + 2 * line, label_y + label_height), fill=color)
        draw.text((x + line - left, label_y + line - top), text, fill="white", font=font)
    return annotated


def probability_bars(faces: list[Face]) -> str:
    """HTML: per face, its label and a bar per class, in the face's box color."""
    blocks = []
    for number, face in enumerate(faces, start=1):
        color = COLORS[(number - 1) % len(COLORS)]
        bar = "display:block;height:12px;border-radius:3px;background:" + color
        rows = "".join(
            f'<div style="display:flex;align-items:center;gap:6px;margin:2px 0">'
            f'<span style="width:64px">{name}</span>'
            f'<span style="flex:1;background:#8882;border-radius:3px;height:12px">'
            f'<span style="{bar};width:{face.scores[name]:.1%}"></span></span>'
            f'<span style="width:48px;text-align:right">{face.scores[name]:.1%}</span></div>'
            for name in LABELS
        )
        title = f"Face {number}: {face.label} ({face.scores[face.label]:.0%})"
        blocks.append(
            f'<div class="fer-face" style="border-left:4px solid {color};padding:4px 8px;margin:6px 0">'
            f"<b>{title}</b>{rows}</div>"
        )
    return "".join(blocks)
