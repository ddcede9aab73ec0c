"""Pictures of results: faces boxed and labelled on the image, and a card per face (its crop, label and scores) as
HTML. Each expression has one colour, used alike by boxes, labels and score bars."""

from __future__ import annotations

import base64
import html
import io

from PIL import Image, ImageDraw, ImageFont

from ..inference.recognizer import Face
from ..labels import LABELS

EXPRESSION_COLORS = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "happy": "#2ca02c",
    "sad": "#1f77b4",
    "surprise": "#ff7f0e",
    "neutral": "#7f7f7f",
}
MIN_DISPLAY_SIDE = 320  # smaller images (e.g. 48x48 crops) are enlarged, smoothly, for display
LABEL_SIZE = 1 / 28  # on-image label text height, as a fraction of the image's longer side (less for small faces)
CROP_SIDE = 96  # pixels of the face crop on each card
CROP_MARGIN = 0.15  # context around a face box on its card, as a fraction of the box


def text_color(background: str) -> str:
    """Black or white, whichever reads better on the hex colour `background`."""
    red, green, blue = (int(background[i : i + 2], 16) for i in (1, 3, 5))
    return "#000" if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "#fff"


def label_size(side: float, face_widths: list[float]) -> int:
    """Pixel height of the on-image labels: LABEL_SIZE of the image's longer side, less when the faces are small
    (a quarter of the median face's width, but at least half of LABEL_SIZE), so labels of neighbours rarely overlap."""
    median_width = sorted(face_widths)[len(face_widths) // 2] if face_widths else side
    return max(12, round(min(side * LABEL_SIZE, max(side * LABEL_SIZE / 2, median_width / 4))))


def draw_faces(image: Image.Image, faces: list[Face], numbers: list[int] | None = None) -> Image.Image:
    """A copy of `image` (small ones enlarged) with each face boxed and labelled 'N label P%' in its expression's
    colour, the text sized to the image; N is the face's number in `numbers` (e.g. its id across video frames),
    else 1, 2, ..."""
    zoom = max(1.0, MIN_DISPLAY_SIDE / max(image.size))  # 1 unless the image is small
    size = (round(image.width * zoom), round(image.height * zoom))
    annotated = image.resize(size, Image.Resampling.BICUBIC) if zoom > 1 else image.copy()
    draw = ImageDraw.Draw(annotated)
    side = max(annotated.size)
    line = max(2, round(side / 250))
    font = ImageFont.load_default(size=label_size(side, [face.box[2] * zoom for face in faces]))
    for number, face in zip(numbers or range(1, len(faces) + 1), faces):
        color = EXPRESSION_COLORS[face.label]
        x, y, w, h = (value * zoom for value in face.box)
        draw.rectangle((x, y, x + w - 1, y + h - 1), outline=color, width=line)
        text = f"{number} {face.label} {face.scores[face.label]:.0%}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        label_width, label_height = right - left + 2 * line, bottom - top + 2 * line
        label_x = max(0, min(x, annotated.width - label_width))  # inside the image
        label_y = y - label_height if y >= label_height else y  # above the box, or inside it at the top edge
        draw.rectangle((label_x, label_y, label_x + label_width, label_y + label_height), fill=color)
        draw.text((label_x + line - left, label_y + line - top), text, fill=text_color(color), font=font)
    return annotated


def face_crop(image: Image.Image, face: Face) -> Image.Image:
    """The face with some context around it, at most CROP_SIDE pixels a side (small faces enlarged smoothly)."""
    x, y, w, h = face.box
    dx, dy = w * CROP_MARGIN, h * CROP_MARGIN
    left, top = max(0, round(x - dx)), max(0, round(y - dy))
    crop = image.crop((left, top, min(image.width, round(x + w + dx)), min(image.height, round(y + h + dy))))
    scale = CROP_SIDE / max(crop.size)
    size = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
    return crop.convert("RGB").resize(size, Image.Resampling.BICUBIC)


def face_cards(image: Image.Image, faces: list[Face], numbers: list[int] | None = None) -> str:
    """HTML: a card per face, numbered as `draw_faces` numbers them: its crop, its label, and a bar per class, the
    likeliest first, each in its class's colour. Cards wrap to the page width."""
    cards = []
    for number, face in zip(numbers or range(1, len(faces) + 1), faces):
        color = EXPRESSION_COLORS[face.label]
        buffer = io.BytesIO()
        face_crop(image, face).save(buffer, format="JPEG", quality=88)
        crop = base64.b64encode(buffer.getvalue()).decode()
        rows = "".join(
            f'<div style="display:flex;align-items:center;gap:4px;font-size:12px;line-height:15px">'
            f'<span style="width:58px">{name}</span>'
            f'<span style="flex:1;min-width:20px;background:#8882;border-radius:3px;height:8px">'
            f'<span style="display:block;height:8px;border-radius:3px;background:{EXPRESSION_COLORS[name]};'
            f'width:{face.scores[name]:.1%}"></span></span>'
            f'<span style="width:38px;text-align:right">{face.scores[name]:.0%}</span></div>'
            for name in sorted(LABELS, key=face.scores.__getitem__, reverse=True)
        )
        title = f"Face {number}: {face.label} {face.scores[face.label]:.0%}"
        cards.append(
            f'<div class="fer-face" data-label="{face.label}" style="display:flex;gap:8px;min-width:0;padding:6px;'
            f'border:2px solid {color};border-radius:8px">'
            f'<img class="fer-crop" src="data:image/jpeg;base64,{crop}" alt="{html.escape(title)}" '
            f'style="width:{CROP_SIDE}px;height:{CROP_SIDE}px;object-fit:contain;flex:none;border-radius:4px">'
            f'<div style="flex:1;min-width:0"><div class="fer-face-title" style="font-weight:600;margin-bottom:2px;'
            f'overflow-wrap:anywhere">{title}</div>{rows}</div></div>'
        )
    if not cards:
        return ""
    return (
        '<div class="fer-cards" style="display:grid;gap:8px;'
        'grid-template-columns:repeat(auto-fill,minmax(min(100%,260px),1fr))">' + "".join(cards) + "</div>"
    )
