"""Video throughput and memory: `fer_hub.analyze_video` on 640x480 clips with 1 and with 4 faces in every frame
(every frame analysed: detection, batched classification, tracking), and `fer-hub predict VIDEO --csv` on a
10-minute video (skimage's astronaut moving across the frame), its resident memory sampled from start to end.
Targets: >= 15 frames/s with one face; memory growth < 50 MB over the long video.

    python benchmarks/video.py [--threads 1] [--long-every 25] [--note "..."]

Writes benchmarks/results/video.json and .md. The clips are made here (tests/video_clips.py) in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from results_io import write_report

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' clip maker
from video_clips import write_clip  # noqa: E402

from fer_hub.cli.main import main as fer_hub_main  # noqa: E402
from fer_hub.inference.recognizer import get_recognizer  # noqa: E402
from fer_hub.media.video import analyze_video  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SIZE = (640, 480)
FPS = 25.0


def resident_mb() -> float:
    """This process's resident memory (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def throughput(clip: Path, runs: int) -> dict:
    """Frames per second of analyze_video over every frame of `clip` (median of `runs`) by the wall clock and per
    second of this process's CPU time (what one unshared core would give), and the faces found per frame."""
    recognizer = get_recognizer()
    for _ in analyze_video(clip, recognizer, every=10):  # warm-up: every code path once
        pass
    rates, cpu_rates, faces = [], [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        faces = [len(result.faces) for result in analyze_video(clip, recognizer)]
        rates.append(len(faces) / (time.perf_counter() - started))
        cpu_rates.append(len(faces) / (time.process_time() - cpu_started))
    return {
        "frames": len(faces),
        "frames_per_s": statistics.median(rates),
        "runs": [round(rate, 2) for rate in rates],
        "frames_per_cpu_s": statistics.median(cpu_rates),
        "mean_faces_per_frame": sum(faces) / len(faces),
    }


def long_video_memory(clip: Path, every: int, table: Path) -> dict:
    """`fer-hub predict CLIP --csv TABLE --every N` in this process, resident memory sampled every 0.5 s: at the start
    (the first sample after the table's first row: model loaded, first frames done), its highest while frames were
    analysed, after the last frame (the last sample before the timeline is plotted: matplotlib imported) and at the
    end (plot drawn)."""
    samples: list[tuple[float, bool, bool]] = []  # MB, whether rows were written yet, whether plotting began
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            started = table.is_file() and table.stat().st_size > 200  # header ~90 bytes, one row ~110
            samples.append((resident_mb(), started, "matplotlib.pyplot" in sys.modules))
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    began = time.perf_counter()
    sampler.start()
    code = fer_hub_main(["predict", str(clip), "--csv", str(table), "--every", str(every)])
    done.set()
    sampler.join()
    elapsed = time.perf_counter() - began
    if code != 0:
        raise SystemExit(f"fer-hub predict failed with exit code {code}")
    running = [mb for mb, started, _ in samples if started]
    frames_done = [mb for mb, started, plotting in samples if started and not plotting]
    rows = sum(1 for _ in table.open()) - 1
    return {
        "rows": rows,
        "every": every,
        "seconds": round(elapsed, 1),
        "samples": len(running),
        "rss_start_mb": round(running[0], 1),
        "rss_max_over_frames_mb": round(max(frames_done), 1),
        "rss_last_frame_mb": round(frames_done[-1], 1),
        "rss_end_mb": round(running[-1], 1),
        "growth_over_frames_mb": round(max(frames_done) - running[0], 1),
        "growth_mb": round(max(running) - running[0], 1),
        "rss_curve_mb": [round(mb, 1) for mb in running[:: max(1, len(running) // 20)]],
    }


def markdown(report: dict) -> str:
    long = report["long_video"]
    lines = [
        "# Video benchmark",
        "",
        f"{report['machine']}. Detector: `{report['detector']}`; model: the embedded default.",
        "",
        "| clip (640x480, 25 fps, every frame analysed) | frames | faces found per frame | frames/s (wall clock) "
        "| frames per CPU-second | target |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in report["clips"].items():
        target = ">= 15 frames/s" if name == "1 face" else "-"
        lines.append(
            f"| {name} | {row['frames']} | {row['mean_faces_per_frame']:.2f} | {row['frames_per_s']:.1f} "
            f"| {row['frames_per_cpu_s']:.1f} | {target} |"
        )
    lines += [
        "",
        f"10-minute video ({long['video_frames']} frames, 640x480, one face moving across the frame), "
        f"`fer-hub predict --csv --every {long['every']}` ({long['rows']} rows, {long['seconds']} s; every frame is "
        "still decoded):",
        "",
        "| resident memory at start | highest while analysing | after the last frame | at end (timeline plotted) "
        "| growth while analysing | growth in all (highest - start) | target |",
        "|---|---|---|---|---|---|---|",
        f"| {long['rss_start_mb']} MB | {long['rss_max_over_frames_mb']} MB | {long['rss_last_frame_mb']} MB "
        f"| {long['rss_end_mb']} MB | {long['growth_over_frames_mb']} MB | {long['growth_mb']} MB | growth < 50 MB |",
        "",
        "Resident memory through the run (MB, 20 samples): " + ", ".join(map(str, long["rss_curve_mb"])) + ".",
        "",
        report["note"],
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the 1- and 4-face clips")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--long-minutes", type=float, default=10.0)
    parser.add_argument("--long-every", type=int, default=25, help="analyse every N-th frame of the long video")
    parser.add_argument("--note", default="")
    parser.add_argument("--output", type=Path, default=RESULTS / "video.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        frames = round(args.seconds * FPS)
        clips = {}
        for faces in (1, 4):
            clip = write_clip(folder / f"faces{faces}.avi", faces=faces, frames=frames, fps=FPS, size=SIZE)
            clips[f"{faces} face{'s' if faces > 1 else ''}"] = throughput(clip, args.runs)
            print(f"{faces} face(s): {clips[list(clips)[-1]]}", flush=True)
        long_frames = round(args.long_minutes * 60 * FPS)
        long_clip = write_clip(folder / "ten_minutes.mp4", faces=1, frames=long_frames, fps=FPS, size=SIZE)
        long = {"video_frames": long_frames, **long_video_memory(long_clip, args.long_every, folder / "rows.csv")}
        print(f"long video: {long}", flush=True)
    report = {
        "machine": f"{platform.machine()} CPU, {args.threads} torch thread(s), "
        f"{len(os.sched_getaffinity(0))} core(s) available to the process",
        "detector": getattr(get_recognizer().detector, "name", type(get_recognizer().detector).__name__),
        "note": args.note,
        "clips": clips,
        "long_video": long,
    }
    write_report(report, args.output, markdown)


if __name__ == "__main__":
    main()
