"""The demo's Video tab: upload a clip, get it back annotated (boxes, face ids, labels), the timeline plot of each
face's scores, and the table of every face in every analysed frame as a CSV download."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from ..errors import FerHubError
from ..inference.recognizer import EmotionRecognizer
from ..media.table_writer import TableWriter
from ..media.timeline import Timeline
from ..media.video import VideoReader, analyze_video

MAX_CLIP_SECONDS = 120  # longer clips are refused: every frame costs a detection on the server's CPU
DEFAULT_EVERY = 2


def analyze_clip(
    clip: str | None,
    recognizer: EmotionRecognizer,
    tta: bool = False,
    every: int = DEFAULT_EVERY,
    smooth: float = 0.0,
    progress: gr.Progress | None = None,
) -> tuple[str | None, str | None, str | None, str]:
    """(annotated .webm, timeline .png, .csv, message) for an uploaded clip; on bad input no files and the
    problem as the message."""
    if not clip:
        return None, None, None, ""
    name = Path(clip).name
    try:
        with VideoReader(clip, name=name) as video:
            if video.duration_s > MAX_CLIP_SECONDS:
                raise FerHubError(
                    f"{name} lasts {video.duration_s:.0f} s; this demo takes clips up to {MAX_CLIP_SECONDS} s"
                )
        folder = Path(tempfile.mkdtemp(prefix="fer-hub-video-"))
        stem = Path(clip).stem
        annotated, plot, table = (folder / f"{stem}{suffix}" for suffix in (".annotated.webm", ".timeline.png", ".csv"))
        timeline = Timeline(title=name)
        frames = 0
        with TableWriter(table, "csv") as writer:
            for result in analyze_video(
                clip,
                recognizer,
                every=int(every),
                smooth=smooth or None,
                tta=tta,
                annotate=annotated,
                progress=progress is not None,
            ):
                writer.write(result)
                timeline.add(result)
                frames += 1
        timeline.save(plot)
    except FerHubError as error:
        return None, None, None, f"**Cannot use this clip:** {error}"
    faces = len(timeline.faces)
    message = f"**{frames} frames analysed, {faces} face{'' if faces == 1 else 's'} tracked, {writer.rows} rows.**"
    return str(annotated), str(plot), str(table), message


def video_tab(
    recognizer: Callable[[str], EmotionRecognizer], model: gr.Dropdown, tta: gr.Checkbox, events: dict
) -> None:
    """Adds the Video tab to the Blocks being built; `recognizer` maps the picker's model name to its recognizer
    and `events` are the keyword arguments of the demo's other UI events (concurrency pool, API visibility)."""
    with gr.Tab("Video"):
        with gr.Row():
            clip = gr.Video(sources=["upload"], label=f"Clip (up to {MAX_CLIP_SECONDS} s)", elem_id="fer-clip")
            annotated = gr.Video(label="Faces", interactive=False, elem_id="fer-clip-faces")
        with gr.Row():
            every = gr.Slider(1, 10, value=DEFAULT_EVERY, step=1, label="Analyse every N-th frame")
            smooth = gr.Slider(0, 3, value=0, step=0.25, label="Smooth scores over (seconds, 0: off)")
            run = gr.Button("Analyse the clip", variant="primary")
        message = gr.Markdown(elem_id="fer-clip-message")
        plot = gr.Image(label="Timeline: each face's scores over time", type="filepath", interactive=False)
        table = gr.File(label="Every face in every analysed frame (CSV)", interactive=False)

    def handle(
        path: str | None,
        model_name: str,
        flip: bool,
        step: float,
        seconds: float,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (gradio injects progress this way)
    ) -> tuple:
        try:
            chosen = recognizer(model_name)
        except FerHubError as error:
            return None, None, None, f"**{error}**"
        return analyze_clip(path, chosen, tta=flip, every=int(step), smooth=seconds, progress=progress)

    run.click(handle, inputs=[clip, model, tta, every, smooth], outputs=[annotated, plot, table, message], **events)
