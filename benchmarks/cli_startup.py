"""Wall-clock time of the `fer-hub` command when it needs no model: `--help`, `--version` and an argument error
(target: under 1 s), beside a bare `python -c pass` (the interpreter's own start-up) and `import fer_hub` (what a
Python user pays: the package registers its architectures, which imports torch and transformers).

    python benchmarks/cli_startup.py [--runs 7] [--note "..."]

Writes benchmarks/results/cli_startup.json and .md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from results_io import write_report

RESULTS = Path(__file__).resolve().parent / "results"
FER_HUB = str(Path(sys.executable).with_name("fer-hub"))
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "fer-hub --help": [FER_HUB, "--help"],
    "fer-hub --version": [FER_HUB, "--version"],
    "fer-hub train --model cnn (argument error)": [FER_HUB, "train", "--model", "cnn"],
    "python -c 'import fer_hub'": [sys.executable, "-c", "import fer_hub"],
}


def run_seconds(command: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of one run: on a busy machine the CPU time is the steadier."""
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return wall, cpu


def markdown(report: dict) -> str:
    lines = [
        "# CLI start-up",
        "",
        f"{report['machine']}; Python {report['python']}; {report['runs']} runs each, after one warm-up run.",
        "",
        "| command | wall median | min | max | CPU median |",
        "|---|---|---|---|---|",
    ]
    for name, row in report["commands"].items():
        seconds = [row[key] for key in ("median_s", "min_s", "max_s", "cpu_s")]
        lines.append(f"| `{name}` | " + " | ".join(f"{value:.2f} s" for value in seconds) + " |")
    return "\n".join([*lines, "", report["note"], ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--note", default="")
    parser.add_argument("--output", type=Path, default=RESULTS / "cli_startup.json")
    args = parser.parse_args()

    commands = {}
    for name, command in COMMANDS.items():
        run_seconds(command)  # warm the file cache
        walls, cpus = zip(*(run_seconds(command) for _ in range(args.runs)))
        commands[name] = {
            "median_s": round(statistics.median(walls), 3),
            "min_s": round(min(walls), 3),
            "max_s": round(max(walls), 3),
            "cpu_s": round(statistics.median(cpus), 3),
        }
        print(f"{name}: median {commands[name]['median_s']:.2f} s")
    report = {
        "machine": f"{platform.machine()} CPU, {len(os.sched_getaffinity(0))} core(s) available to the benchmark",
        "python": platform.python_version(),
        "runs": args.runs,
        "commands": commands,
        "note": args.note,
    }
    write_report(report, args.output, markdown)


if __name__ == "__main__":
    main()
