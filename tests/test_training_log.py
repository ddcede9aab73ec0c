"""training_log.txt: one line per evaluation whose train_loss is the mean training loss since the previous
evaluation, also where `logging_steps` does not line up with the evaluations; no progress-bar escape codes
where the output is not a terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from fer_hub.training.train import train

pytestmark = pytest.mark.slow  # trains a model

FIXTURE = str(Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz")  # 84 training faces: 6 steps of 16


def test_train_loss_is_the_step_weighted_mean_since_the_previous_evaluation(tmp_path, capfd):
    recipe = tmp_path / "cnn.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "model": "cnn",
                "config": {"conv_channels": [8, 8, 16], "hidden_size": 32},
                "training": {
                    "num_train_epochs": 2,
                    "per_device_train_batch_size": 16,
                    "learning_rate": 1e-3,
                    "seed": 0,
                    "logging_steps": 4,
                },  # logs at steps 4 and 8: neither is an evaluation (steps 6 and 12)
            }
        )
    )
    output = tmp_path / "run"
    train("cnn", FIXTURE, output, recipe_path=recipe)

    history = json.loads((output / "trainer_log_history.json").read_text())
    loss = {entry["step"]: entry["loss"] for entry in history if "loss" in entry}  # each: the mean since the last log
    assert [entry["step"] for entry in history if "eval_loss" in entry] == [6, 12]
    assert sorted(loss) == [4, 6, 8, 12]  # a log right before each evaluation
    expected = [(4 * loss[4] + 2 * loss[6]) / 6, (2 * loss[8] + 4 * loss[12]) / 6]

    lines = (output / "training_log.txt").read_text().splitlines()
    assert [float(re.search(r"train_loss (\S+) ", line).group(1)) for line in lines] == pytest.approx(
        expected, abs=1e-4
    )
    out, err = capfd.readouterr()
    assert "\x1b[" not in out + err and "nan" not in out  # pytest's capture is not a terminal: no progress bars
