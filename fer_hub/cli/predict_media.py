"""`fer-hub predict` on folders and videos: images (folders searched recursively) and video frames -> one row per
face in `--csv` / `--jsonl` (written as it goes), a timeline PNG per video and, with `--annotate`, an annotated copy.
Without a table, folders of images are printed like images. Every output is checked before the model is loaded (not
an input, not another output, not a folder) and written to a temporary file renamed into place when complete."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from itertools import groupby
from pathlib import Path

from tqdm.auto import tqdm

from ..data.image_io import read_image
from ..errors import FerHubError, ParameterError
from ..inference.classifier import ModelReferences, batches
from ..inference.recognizer import EmotionRecognizer, get_recognizer
from ..media.paths import is_image_file, is_video
from ..media.table_writer import TableWriter
from ..media.timeline import Timeline
from ..media.tracking import DETECT_INTERVAL_S, check_detect_interval
from ..media.video import (
    WRITER_CODECS,
    FrameResult,
    TrackedFace,
    analyze_video,
    checked_sampling,
    require_video_support,
)
from ..output_paths import check_outputs, local_files, shown_path
from .predict import predict_command

IMAGE_BATCH = 16  # images whose faces are classified in one forward pass


def expand_inputs(paths: list[str]) -> list[Path]:
    """Files as given; each folder replaced by the images and videos under it (recursively, sorted)."""
    files: list[Path] = []
    for value in paths:
        path = Path(value)
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in path.rglob("*") if p.is_file() and (is_image_file(p) or is_video(p)))
        if not found:
            raise FerHubError(f"{value}: no images or videos in this folder")
        files.extend(found)
    return files


def unique_names(paths: list[Path]) -> dict[Path, str]:
    """A file-name stem per path, numbered (-2, -3, ...) where stems repeat."""
    names: dict[Path, str] = {}
    taken: set[str] = set()
    for path in paths:
        name, number = path.stem, 1
        while name in taken:
            number += 1
            name = f"{path.stem}-{number}"
        taken.add(name)
        names[path] = name
    return names


def annotated_paths(annotate: str | None, videos: list[Path]) -> dict[Path, Path]:
    """Where each video's annotated copy goes: `annotate` itself when it names a video file (one video only),
    else VIDEO.annotated.mp4 inside the folder `annotate` (an existing folder, or a name without a suffix)."""
    if annotate is None:
        return {}
    target = Path(annotate)
    if target.suffix.lower() in WRITER_CODECS and not target.is_dir():
        if len(videos) != 1:
            raise FerHubError(
                f"--annotate {annotate}: a file name takes exactly one video ({len(videos)} given); give a folder"
            )
        return {videos[0]: target}
    if target.suffix and not target.is_dir():
        raise ParameterError(
            "annotate",
            f"{annotate}: an annotated video must end in one of {', '.join(WRITER_CODECS)} (or give a folder, "
            "for several videos)",
        )
    return {video: target / f"{name}.annotated.mp4" for video, name in unique_names(videos).items()}


def analyze_images(
    paths: list[Path],
    recognizer: EmotionRecognizer,
    tta: bool = False,
    whole_image: bool = False,
    progress: bool = False,
) -> Iterator[FrameResult | FerHubError]:
    """Per image, its `FrameResult` (boxes in the file's pixels, face ids 1..n largest first) or the error that
    kept it from being read; the faces of IMAGE_BATCH images are classified together."""
    with tqdm(total=len(paths), unit="image", disable=not progress, file=sys.stderr) as bar:
        for chunk in batches(paths, IMAGE_BATCH):
            loaded, results = [], {}
            for path in chunk:
                try:
                    loaded.append((path, read_image(path, name=str(path))))
                except FerHubError as error:
                    results[path] = error
            found = recognizer.recognize_batch([image.image for _, image in loaded], tta=tta, whole_image=whole_image)
            for (path, image), faces in zip(loaded, found):
                tracked = [
                    TrackedFace(tuple(round(value * image.scale) for value in face.box), face.scores, number)
                    for number, face in enumerate(faces, start=1)
                ]
                results[path] = FrameResult(str(path), None, None, tracked)
            for path in chunk:
                bar.update()
                yield results[path]


def predict_media(
    paths: list[str],
    model: ModelReferences = None,
    *,
    csv: str | None = None,
    jsonl: str | None = None,
    every: int | None = None,
    fps: float | None = None,
    smooth: float | None = None,
    detect_interval: float | None = None,
    annotate: str | None = None,
    timeline: str | None = None,
    as_json: bool = False,
    tta: bool = False,
    whole_image: bool = False,
    trust_remote_code: bool = False,
    device: str = "cpu",
) -> None:
    """`fer-hub predict` with folders, videos or a table. Unreadable files (and videos that stop early, after
    their rows are written) are reported on stderr without stopping the others, then counted in a FerHubError."""
    files = expand_inputs(paths)
    videos = [path for path in files if is_video(path)]
    if not (csv or jsonl):
        if videos:
            raise FerHubError(f"{videos[0]} is a video: add --csv FILE or --jsonl FILE for its rows ('-': stdout)")
        options = {
            "every": every,
            "fps": fps,
            "smooth": smooth,
            "detect-interval": detect_interval,
            "annotate": annotate,
            "timeline": timeline,
        }
        if given := [f"--{name}" for name, value in options.items() if value is not None]:
            raise FerHubError(f"{', '.join(given)} need --csv FILE or --jsonl FILE")
        predict_command(
            [str(path) for path in files],
            model=model,
            as_json=as_json,
            tta=tta,
            whole_image=whole_image,
            trust_remote_code=trust_remote_code,
            device=device,
        )
        return
    if as_json:
        raise FerHubError("--json prints images' results; with --csv or --jsonl the rows go to that file")
    if csv == "-" and jsonl == "-":
        raise FerHubError("only one of --csv and --jsonl can be '-' (stdout)")
    if whole_image and videos:
        raise FerHubError("--whole-image applies to images (already-cropped faces), not to videos")
    every = 1 if every is None else every
    checked_sampling(every, fps, smooth)  # bad values fail before anything is written
    detect_interval = check_detect_interval(DETECT_INTERVAL_S if detect_interval is None else detect_interval)
    if videos:
        require_video_support()  # OpenCV and matplotlib, before the model loads
    annotated = annotated_paths(annotate, videos)
    table = next(path for path in (csv, jsonl) if path)
    plots = Path(timeline) if timeline else (Path(table).parent if table != "-" else Path("."))
    plot_paths = {video: plots / f"{name}.timeline.png" for video, name in unique_names(videos).items()}
    folders = [("timeline", plots if videos else None)]
    if annotate is not None and annotated and Path(annotate) not in annotated.values():
        folders.append(("annotate", annotate))
    check_outputs(  # before the model is loaded: nothing read is overwritten, no output written twice
        [
            ("csv", csv),
            ("jsonl", jsonl),
            *(("annotate", path) for path in annotated.values()),
            *(("timeline", path) for path in plot_paths.values()),
        ],
        inputs=[*files, *local_files(model)],
        folders=folders,
    )

    recognizer = get_recognizer(model, trust_remote_code=trust_remote_code, device=device)
    progress = sys.stderr.isatty()
    errors: list[FerHubError] = []
    with ExitStack() as stack:
        writers = [
            stack.enter_context(TableWriter(path, table_format))
            for path, table_format in ((csv, "csv"), (jsonl, "jsonl"))
            if path
        ]
        for are_videos, group in groupby(files, key=is_video):
            if not are_videos:
                for result in analyze_images(list(group), recognizer, tta, whole_image, progress):
                    if isinstance(result, FerHubError):
                        _report(result, errors, len(files))
                    else:
                        for writer in writers:
                            writer.write(result)
                continue
            for video in group:
                plot = Timeline(title=shown_path(video))
                try:
                    for result in analyze_video(
                        video,
                        recognizer,
                        every=every,
                        fps=fps,
                        smooth=smooth,
                        tta=tta,
                        annotate=annotated.get(video),
                        progress=progress,
                        detect_interval=detect_interval,
                    ):
                        for writer in writers:
                            writer.write(result)
                        plot.add(result)
                except FerHubError as error:
                    _report(error, errors, len(files))
                    continue
                written = [plot.save(plot_paths[video]), annotated.get(video)]
                print(f"{video}: wrote {' and '.join(str(path) for path in written if path)}", file=sys.stderr)
        nothing_read = len(errors) == len(files) and not any(writer.rows for writer in writers)
        for writer in writers:  # nothing could be read: no header-only table replaces what was there
            writer.discard() if nothing_read else writer.close()
    if not nothing_read:
        for writer in writers:
            print(f"wrote {writer.path}: {writer.rows} rows", file=sys.stderr)
    if len(files) == 1 and errors:
        raise errors[0]
    if errors:
        raise FerHubError(f"{len(errors)} of {len(files)} files could not be read")


def _report(error: FerHubError, errors: list[FerHubError], files: int) -> None:
    """Each unreadable file is an error line of its own when there are several (one file: the final error)."""
    errors.append(error)
    if files > 1:
        print(f"error: {error}", file=sys.stderr)
