"""A training folder belongs to one run: a new run refuses a folder holding another run's checkpoints or log
(unless --overwrite), --resume continues only the run that wrote the folder, and training_log.txt never mixes runs."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest
import yaml

from fer_hub.cli.main import main
from fer_hub.errors import FerHubError, ParameterError
from fer_hub.training import train as training
from fer_hub.training.run_folder import RUN_FILE, RunTag, check_run_folder, checkpoint_run_id, folder_run_id

FIXTURE = str(Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz")


def _checkpoint(folder: Path, step: int, run_id: str | None, complete: bool = True) -> Path:
    """A checkpoint-STEP folder as Trainer leaves it; its trainer_state.json carries `run_id` (None: an older
    fer-hub's checkpoint); an incomplete one (killed while saving) has no trainer_state.json."""
    checkpoint = folder / "checkpoints" / f"checkpoint-{step}"
    checkpoint.mkdir(parents=True)
    (checkpoint / "model.safetensors").write_bytes(b"weights")
    if complete:
        callbacks = {"RunTag": RunTag(run_id).state()} if run_id else {}
        (checkpoint / "trainer_state.json").write_text(
            json.dumps({"global_step": step, "stateful_callbacks": callbacks})
        )
    return checkpoint


def _claim(folder: Path, run_id: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUN_FILE).write_text(json.dumps({"run_id": run_id}))


def _tiny_recipe(folder: Path) -> Path:
    path = folder / "cnn-tiny.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "model": "cnn",
                "config": {"conv_channels": [8, 8, 16], "hidden_size": 32},
                "early_stopping_patience": 10,
                "training": {"num_train_epochs": 2, "per_device_train_batch_size": 16, "logging_steps": 1, "seed": 0},
            }
        )
    )
    return path


@pytest.fixture
def no_data_loading(monkeypatch):
    """Fails the test if training gets as far as loading the data."""

    def refuse(*args, **kwargs):
        raise AssertionError("the data was loaded before the folder was checked")

    monkeypatch.setattr(training, "load_fer2013", refuse)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_new_run_refuses_a_folder_with_another_runs_checkpoints(tmp_path, no_data_loading, capsys):
    folder = tmp_path / "run"
    _claim(folder, "a" * 32)
    for step in (188, 295):
        _checkpoint(folder, step, "a" * 32)
    argv = ["train", "--model", "cnn", "--data", FIXTURE, "--output-dir", str(folder)]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert "holds another training run" in line and "checkpoint-188" in line
    assert line.startswith("fer-hub train: error: --output-dir: ") and "continue it with --resume" in line
    assert "start over there with --overwrite" in line
    assert sorted(path.name for path in (folder / "checkpoints").iterdir()) == ["checkpoint-188", "checkpoint-295"]


def test_new_run_refuses_a_folder_with_another_runs_training_log(tmp_path):
    (tmp_path / "training_log.txt").write_text("epoch 1.00 step 10: ...\n")
    with pytest.raises(ParameterError, match="holds another training run") as error:
        check_run_folder(tmp_path)
    assert error.value.parameter == "output_dir" and "`resume`" in str(error.value) and "--" not in str(error.value)


def test_resume_and_overwrite_exclude_each_other(tmp_path):
    with pytest.raises(ParameterError, match="^overwrite: `resume` and `overwrite` exclude each other"):
        check_run_folder(tmp_path, resume=True, overwrite=True)


def test_cli_names_the_flags_of_resume_and_overwrite(tmp_path, no_data_loading, capsys):
    argv = ["train", "--model", "cnn", "--data", FIXTURE, "--output-dir", str(tmp_path), "--resume", "--overwrite"]
    assert main(argv) == 2
    assert _one_error_line(capsys).startswith(
        "fer-hub train: error: --overwrite: --resume and --overwrite exclude each other"
    )


def test_resume_refuses_while_other_runs_checkpoints_lie_beside(tmp_path):
    """The issue's folder: a finished run's checkpoint-188 and -295, then a new run's checkpoint-47."""
    _claim(tmp_path, "b" * 32)
    for step in (188, 295):
        _checkpoint(tmp_path, step, "a" * 32)
    _checkpoint(tmp_path, 47, "b" * 32)
    with pytest.raises(FerHubError, match="checkpoint-188, checkpoint-295") as error:
        check_run_folder(tmp_path, resume=True)
    assert "checkpoint-47" not in str(error.value)


def test_resume_takes_the_newest_complete_checkpoint_of_the_folders_run(tmp_path):
    _claim(tmp_path, "b" * 32)
    _checkpoint(tmp_path, 47, "b" * 32)
    _checkpoint(tmp_path, 94, "b" * 32)
    _checkpoint(tmp_path, 141, None, complete=False)  # killed while saving
    run = check_run_folder(tmp_path, resume=True)
    assert Path(run.resume_from).name == "checkpoint-94" and run.run_id == "b" * 32


def test_resume_of_a_folder_without_run_ids_takes_its_newest_checkpoint(tmp_path):
    _checkpoint(tmp_path, 50, None)
    _checkpoint(tmp_path, 100, None)
    run = check_run_folder(tmp_path, resume=True)
    assert Path(run.resume_from).name == "checkpoint-100" and run.callbacks() == []


def test_resume_without_a_checkpoint_of_this_run(tmp_path):
    _claim(tmp_path, "b" * 32)
    _checkpoint(tmp_path, 47, "b" * 32, complete=False)
    with pytest.raises(FerHubError, match="no checkpoint to resume from"):
        check_run_folder(tmp_path, resume=True)


@pytest.mark.slow
def test_overwrite_starts_one_new_run_whose_checkpoints_and_log_are_its_own(tmp_path, capsys):
    folder = tmp_path / "run"
    recipe = _tiny_recipe(tmp_path)
    argv = ["train", "--model", "cnn", "--data", FIXTURE, "--output-dir", str(folder), "--recipe", str(recipe)]
    assert main(argv) == 0
    first = folder_run_id(folder)
    first_checkpoints = sorted(path.name for path in (folder / "checkpoints").iterdir())
    assert first and all(checkpoint_run_id(folder / "checkpoints" / name) == first for name in first_checkpoints)
    old = folder / "checkpoints" / "checkpoint-999"  # a leftover the new run must not keep or rotate into
    shutil.copytree(folder / "checkpoints" / first_checkpoints[-1], old)
    capsys.readouterr()

    assert main(argv) == 2  # refused: the folder holds the first run
    assert "holds another training run" in _one_error_line(capsys)
    assert main([*argv, "--overwrite"]) == 0

    second = folder_run_id(folder)
    assert second and second != first
    checkpoints = sorted((folder / "checkpoints").iterdir())
    assert not old.exists() and checkpoints
    assert {checkpoint_run_id(path) for path in checkpoints} == {second}
    assert len((folder / "training_log.txt").read_text().splitlines()) == 2  # one line per epoch of this run only
    assert len((folder / "command.txt").read_text().splitlines()) == 1


@pytest.mark.slow
def test_only_the_cli_records_its_command_line(tmp_path, monkeypatch):
    """command.txt holds the `fer-hub train` command lines that made the folder; training from Python writes none
    (not the caller's sys.argv, e.g. pytest's)."""
    monkeypatch.setattr("sys.argv", ["pytest", "-q", "not-a-fer-hub-argument"])
    recipe = _tiny_recipe(tmp_path)
    from_python = tmp_path / "python"
    assert training.train("cnn", FIXTURE, from_python, recipe_path=recipe)
    assert not (from_python / "command.txt").exists()

    folder = tmp_path / "cli"
    argv = ["train", "--model", "cnn", "--data", FIXTURE, "--output-dir", str(folder), "--recipe", str(recipe)]
    assert main(argv) == 0
    assert (folder / "command.txt").read_text() == shlex.join(["fer-hub", *argv]) + "\n"
