"""train/results_table.py: the README's results table is generated from the committed metrics files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def generator(load_script):
    return load_script("train/results_table.py")


def test_the_committed_tables_are_the_generated_one(generator):
    files = generator.marked_files()
    assert ROOT / "README.md" in files or any(path.is_relative_to(ROOT / "docs") for path in files)
    table = generator.results_table()
    for path in files:
        text = path.read_text()
        assert generator.with_table(text, table) == text, f"{path}: run python train/results_table.py"


def write_metrics(path: Path, **fields) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"split": "validation", "f1_macro": 0.5, **fields}))


def test_rows_come_from_the_metrics_files(generator, tmp_path):
    training = {"epochs": 30.0, "wall_minutes_this_run": 8.4}
    on_gpu = {**training, "device": "NVIDIA H200"}
    write_metrics(tmp_path / "train/results/cnn/metrics.json", accuracy=0.6123, training=on_gpu)
    (tmp_path / "train/results/cnn/metrics-tta.json").write_text(
        json.dumps({"split": "validation", "tta": True, "accuracy": 0.6234, "f1_macro": 0.55})
    )
    write_metrics(
        tmp_path / "train/results/rnn/metrics.json",
        accuracy=0.4821,
        training={**training, "device": "cpu"},
        ferplus_majority={"accuracy": 0.5555, "f1_macro": 0.4444},
    )
    write_metrics(
        tmp_path / "train/results/ensemble/metrics.json", accuracy=0.6399, ensemble=["checkpoints/cnn.fer2013", "rnn"]
    )
    predictions = "train/results/cnn/privatetest-predictions.csv"  # the scored file: its score is shown
    (tmp_path / predictions).write_bytes((ROOT / predictions).read_bytes())
    (tmp_path / "train/results/rnn/privatetest-predictions.csv").write_text("row,label\n")  # not the scored file
    scores = tmp_path / "privatetest-scores.md"
    scores.write_text(
        "as committed at main `aa847e8`\n\n| model | a | b |\n|---|---|---|\n| cnn | 0.6467 | 0.6710 |\n"
        "| rnn | 0.4968 | 0.5322 |\n"
    )
    lines = generator.results_table(tmp_path, heldout=scores).splitlines()
    assert lines[0] == (
        "| model | loads as | trained on | parameters | training time | epochs | PublicTest accuracy | PublicTest macro-F1 | "
        "flip TTA accuracy | PrivateTest accuracy (held out) | FER+ majority accuracy | FER+ majority macro-F1 | "
        "study floor (test accuracy) |"
    )
    cnn, rnn = generator.parameters("cnn"), generator.parameters("rnn")
    assert lines[2:] == [
        f"| cnn | `cnn.fer2013` | FER2013 | {cnn / 1e6:.2f}M | 8 min, NVIDIA H200 | 30.0 | 0.6123 | 0.5000 | 0.6234 | 0.6467 "
        "| - | - | 0.583 |",
        f"| rnn | `rnn.fer2013` | FER2013 | {rnn / 1e6:.2f}M | 8 min, CPU | 30.0 | 0.4821 | 0.5000 | - | - | 0.5555 | 0.4444 "
        "| 0.452 |",
        f"| ensemble (cnn + rnn) | - | - | {(cnn + rnn) / 1e6:.2f}M | - | - | 0.6399 | 0.5000 | - | - | - | - | - |",
    ]


def test_a_tta_file_without_flipped_averaging_is_refused(generator, tmp_path):
    write_metrics(tmp_path / "train/results/cnn/metrics.json", accuracy=0.6123)
    (tmp_path / "train/results/cnn/metrics-tta.json").write_text(
        json.dumps({"split": "validation", "tta": False, "accuracy": 0.6123, "f1_macro": 0.5})
    )
    with pytest.raises(SystemExit, match="metrics-tta.json: lacks flipped-image averaging"):
        generator.results_table(tmp_path)


def test_training_time_names_the_device_when_the_run_recorded_one(generator):
    assert generator._training_time(8.4, None) == "8 min"
    assert generator._training_time(None, "cpu") == "-"


def test_a_marked_block_is_replaced_and_the_rest_kept(generator):
    text = f"intro\n{generator.START}\nold table\n{generator.END}\noutro\n"
    assert generator.with_table(text, "| new |") == f"intro\n{generator.START}\n| new |\n{generator.END}\noutro\n"


def test_the_packaged_scores_are_the_committed_records(generator):
    """`fer-hub models` reports fer_hub/models/pretrained_scores.json: the generated file, never typed."""
    assert generator.SCORES_FILE.read_text() == generator.scores_text(generator.pretrained_scores())


def test_a_held_out_score_is_shown_only_for_the_predictions_that_were_scored(generator, tmp_path):
    scores = tmp_path / "privatetest-scores.md"
    scores.write_text("as committed at main `aa847e8`\n\n| model | a | b |\n|---|---|---|\n| cnn | 0.6467 | 0.6710 |\n")
    assert generator.heldout_scores(scores) == ("aa847e8", {"cnn": (0.6467, 0.671)})
    assert generator.scored_predictions_unchanged("cnn", "aa847e8")
    assert not generator.scored_predictions_unchanged("cnn", "aa847e8", root=tmp_path)  # no such file there
