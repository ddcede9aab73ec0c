"""Bad arguments and output paths are one `error:` line (exit 2), found before any data or model is loaded."""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import socket
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_hub.checks import check_host, check_port, check_training_limits
from fer_hub.cli.main import COMMANDS, build_parser, main
from fer_hub.errors import FerHubError, ParameterError
from fer_hub.labels import LABELS
from fer_hub.training import train as training

FIXTURE = str(Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz")
DEFAULT_MODEL = str(Path(__file__).parents[1] / "fer_hub" / "default_model")


def _one_error_line(capsys, command: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"fer-hub {command}: error:")
    return lines[0]


@pytest.fixture
def no_data_loading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the data was loaded before the arguments were checked")

    monkeypatch.setattr(training, "load_fer2013", refuse)


@pytest.fixture
def launched(monkeypatch) -> list[dict]:
    """`fer-hub demo` with a stand-in for the demo module: records launches instead of serving."""
    calls: list[dict] = []
    stand_in = types.ModuleType("fer_hub.demo.app")
    stand_in.launch_demo = lambda **kwargs: calls.append(kwargs)
    monkeypatch.setitem(sys.modules, "fer_hub.demo.app", stand_in)
    return calls


@pytest.mark.parametrize(
    "option, message",
    [
        (["--max-steps", "0"], "--max-steps: must be at least 1, not 0"),
        (["--max-steps", "-1"], "--max-steps: must be at least 1, not -1"),
        (["--time-budget", "0"], "--time-budget: must be a positive, finite number of minutes, not 0.0"),
        (["--time-budget", "-1"], "--time-budget: must be a positive, finite number of minutes, not -1.0"),
        (["--time-budget", "nan"], "--time-budget: must be a positive, finite number of minutes, not nan"),
        (["--time-budget", "inf"], "--time-budget: must be a positive, finite number of minutes, not inf"),
    ],
)
def test_training_limits_are_checked_before_the_data(option, message, tmp_path, no_data_loading, capsys):
    argv = ["train", "--model", "cnn", "--data", FIXTURE, "--output-dir", str(tmp_path / "out"), *option]
    assert main(argv) == 2
    assert message in _one_error_line(capsys, "train")
    assert not (tmp_path / "out").exists()


def test_train_output_dir_that_is_a_file(tmp_path, no_data_loading, capsys):
    existing = tmp_path / "a-file"
    existing.write_text("x")
    assert main(["train", "--model", "cnn", "--data", FIXTURE, "--output-dir", str(existing)]) == 2
    assert "exists and is not a folder" in _one_error_line(capsys, "train")
    assert existing.read_text() == "x"


def test_train_output_dir_that_cannot_be_written(no_data_loading, capsys):
    assert main(["train", "--model", "cnn", "--data", FIXTURE, "--output-dir", "/proc/fer-hub-out"]) == 2
    assert "cannot write in /proc" in _one_error_line(capsys, "train")


@pytest.mark.parametrize("where", ["folder", "unwritable"])
def test_evaluate_output_checked_before_evaluating(where, tmp_path, monkeypatch, capsys):
    import fer_hub.evaluation.evaluate

    monkeypatch.setattr(
        fer_hub.evaluation.evaluate, "evaluate", lambda *a, **k: pytest.fail("evaluated before the check")
    )
    output = {"folder": tmp_path, "unwritable": Path("/proc/fer-hub/metrics.json")}[where]
    assert main(["evaluate", "--model", DEFAULT_MODEL, "--data", FIXTURE, "--output", str(output)]) == 2
    line = _one_error_line(capsys, "evaluate")
    assert {"folder": "is a folder", "unwritable": "cannot write in /proc"}[where] in line


def test_export_onnx_output_that_is_a_folder(tmp_path, capsys):
    folder = tmp_path / "model.onnx"
    folder.mkdir()
    assert main(["export-onnx", "--model", DEFAULT_MODEL, "--output", str(folder)]) == 2
    assert "is a folder" in _one_error_line(capsys, "export-onnx")
    assert folder.is_dir() and not any(folder.iterdir())


@pytest.mark.parametrize("port", ["70000", "-5", "0"])
def test_demo_port_out_of_range(port, launched, capsys):
    assert main(["demo", "--port", port]) == 2
    assert "must be between 1 and 65535" in _one_error_line(capsys, "demo")
    assert launched == []


@pytest.mark.parametrize("host", ["999.1.1.1", "1.2.3", "bad host!", "::g"])
def test_demo_invalid_host(host, launched, capsys):
    assert main(["demo", "--host", host, "--port", "7861"]) == 2
    assert "--host" in _one_error_line(capsys, "demo")
    assert launched == []


def test_demo_busy_port_is_one_line(launched, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["demo", "--port", str(port)]) == 2
    assert f"error: --port: {port} is already in use on 127.0.0.1; choose another port" in _one_error_line(
        capsys, "demo"
    )
    assert launched == []


def test_demo_valid_host_and_port_launch(launched):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["demo", "--host", "localhost", "--port", str(port)]) == 0
    assert launched and launched[0]["port"] == port and launched[0]["host"] == "localhost"


@pytest.mark.parametrize("repo_id", ["bad repo id", "no-owner", "a/b/c", "owner/--name"])
def test_card_repo_id_is_checked(repo_id, tmp_path, capsys):
    assert main(["card", DEFAULT_MODEL, "--repo-id", repo_id]) == 2
    assert "expected a Hub repo id OWNER/NAME" in _one_error_line(capsys, "card")


# --- the library names parameters, the CLI names flags ---------------------------------------------------------


@pytest.mark.parametrize(
    "check, parameter, message",
    [
        (lambda: check_training_limits(0, None), "max_steps", "max_steps: must be at least 1, not 0"),
        (
            lambda: check_training_limits(None, float("nan")),
            "time_budget_minutes",
            "time_budget_minutes: must be a positive, finite number of minutes, not nan",
        ),
        (lambda: check_port(70000), "port", "port: must be between 1 and 65535, not 70000"),
        (lambda: check_host("bad host!"), "host", "host: 'bad host!': not a valid host name or IP address"),
    ],
)
def test_checks_raise_parameter_errors_naming_the_python_parameter(check, parameter, message):
    with pytest.raises(ParameterError) as error:
        check()
    assert isinstance(error.value, FerHubError) and error.value.parameter == parameter
    assert str(error.value) == message and "--" not in str(error.value)


def test_python_training_names_parameters_not_flags(tmp_path, no_data_loading):
    with pytest.raises(ParameterError, match=r"^time_budget_minutes: must be a positive"):
        training.train("cnn", FIXTURE, tmp_path / "out", time_budget_minutes=-1)


def _options(parser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings} | {
        action.metavar or action.dest.upper() for action in parser._actions if not action.option_strings
    }


def test_each_commands_flags_name_its_own_options():
    """Every FLAGS entry of a command module names an option (or positional) of that command's parser."""
    subparsers = next(action for action in build_parser()._actions if action.choices)
    for command in COMMANDS:
        parser = subparsers.choices[command.__name__.rsplit(".", 1)[-1].replace("_", "-")]
        assert set(command.FLAGS.values()) <= _options(parser), command.__name__


def test_cli_shows_the_flag_of_a_parameter_error_and_of_the_parameters_it_mentions(monkeypatch, capsys):
    def refuse(**kwargs):
        raise ParameterError("models", "`trust_remote_code` and `models` disagree")

    stand_in = types.ModuleType("fer_hub.demo.app")
    stand_in.launch_demo = refuse
    monkeypatch.setitem(sys.modules, "fer_hub.demo.app", stand_in)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["demo", "--port", str(port)]) == 2
    line = _one_error_line(capsys, "demo")
    assert line == "fer-hub demo: error: --model: --trust-remote-code and --model disagree"


# --- nothing lost: no output is an input or another output, and outputs are replaced whole -----------------------


@pytest.fixture
def no_model_loading(monkeypatch):
    """The commands that predict refuse a bad output before any model is loaded."""
    import fer_hub.cli.predict_media
    import fer_hub.evaluation.evaluate
    import fer_hub.evaluation.predictions

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the outputs were checked")

    monkeypatch.setattr(fer_hub.cli.predict_media, "get_recognizer", refuse)
    monkeypatch.setattr(fer_hub.evaluation.predictions, "load_classifier", refuse)
    monkeypatch.setattr(fer_hub.evaluation.evaluate, "evaluate", refuse)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """A short video of each kind and a folder of two images (made once; tests copy what they may damage)."""
    from video_clips import write_clip

    folder = tmp_path_factory.mktemp("media")
    photos = folder / "photos"
    photos.mkdir()
    for name in ("a.jpg", "b.jpg"):
        Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(photos / name)
    return {
        "mp4": write_clip(folder / "in.mp4", frames=3, size=(240, 200)),
        "avi": write_clip(folder / "in.avi", frames=3, size=(240, 200)),
        "photos": photos,
    }


@pytest.fixture
def work(media, tmp_path) -> Path:
    """A copy of `media` in tmp_path."""
    for path in media.values():
        (shutil.copytree if path.is_dir() else shutil.copy)(path, tmp_path / path.name)
    return tmp_path


def _contents(folder: Path) -> dict[str, bytes | None]:
    """Every file's bytes (None for a folder) under `folder`, by relative path, temporary files included."""
    return {str(path.relative_to(folder)): None if path.is_dir() else path.read_bytes() for path in folder.rglob("*")}


@pytest.mark.parametrize(
    "arguments, flag, phrase",
    [
        (["in.mp4", "--csv", "in.mp4"], "--csv", "in.mp4: is also an input"),
        (["in.mp4", "--jsonl", "in.mp4"], "--jsonl", "in.mp4: is also an input"),
        (["in.avi", "--csv", "rows.csv", "--annotate", "in.avi"], "--annotate", "in.avi: is also an input"),
        (["photos", "--csv", "photos/b.jpg"], "--csv", "photos/b.jpg: is also an input"),
        (["photos", "in.mp4", "--jsonl", "./photos/../photos/a.jpg"], "--jsonl", "is also an input"),
        (["in.mp4", "--csv", "alias.csv"], "--csv", "alias.csv: is also an input (as in.mp4)"),
        (["photos", "--csv", "rows.csv", "--jsonl", "rows.csv"], "--jsonl", "rows.csv: is also the --csv output"),
        (["photos", "--csv", "rows.csv", "--jsonl", "./rows.csv"], "--jsonl", "is also the --csv output"),
        (["in.mp4", "--csv", "out.mp4", "--annotate", "out.mp4"], "--annotate", "is also the --csv output"),
        (["in.mp4", "--csv", "in.timeline.png"], "--timeline", "is also the --csv output"),
        (["in.mp4", "--csv", "photos"], "--csv", "photos: is a folder"),
        (["in.mp4", "--csv", "rows.csv", "--timeline", "in.avi"], "--timeline", "in.avi: exists and is not a folder"),
        (["in.mp4", "--csv", "rows.csv", "--timeline", "plots"], "--timeline", "plots/in.timeline.png: is a folder"),
        (["in.mp4", "--csv", "rows.csv", "--annotate", "notes"], "--annotate", "notes: exists and is not a folder"),
        (["in.mp4", "--csv", "rows.csv", "--annotate", "out.gif"], "--annotate", "out.gif: an annotated video must"),
        (["in.mp4", "--csv", "rows.csv", "--annotate", "plots"], "--annotate", "in.annotated.mp4: is a folder"),
    ],
)
def test_predict_refuses_outputs_that_are_inputs_or_other_outputs(
    arguments, flag, phrase, work, no_model_loading, monkeypatch, capsys
):
    monkeypatch.chdir(work)
    (work / "alias.csv").symlink_to("in.mp4")
    (work / "rows.csv").write_text("the previous rows\n")
    (work / "notes").write_text("a file")
    (work / "plots" / "in.timeline.png").mkdir(parents=True)
    (work / "plots" / "in.annotated.mp4").mkdir()
    before = _contents(work)
    assert main(["predict", *arguments]) == 2
    line = _one_error_line(capsys, "predict")
    assert line.startswith(f"fer-hub predict: error: {flag}: ") and phrase in line, line
    assert _contents(work) == before  # every input and output as it was; no temporary or half-written file


def test_annotate_with_an_unsupported_suffix_makes_nothing(work, no_model_loading, monkeypatch, capsys):
    monkeypatch.chdir(work)
    before = _contents(work)
    assert main(["predict", "in.mp4", "--csv", "rows.csv", "--annotate", "out.gif"]) == 2
    line = _one_error_line(capsys, "predict")
    assert "--annotate: out.gif: an annotated video must end in one of .mp4" in line and "or give a folder" in line
    assert _contents(work) == before and not (work / "out.gif").exists()


def test_predict_data_refuses_to_overwrite_its_data(tmp_path, no_model_loading, capsys):
    data = tmp_path / "faces.csv"
    data.write_bytes(gzip.decompress(Path(FIXTURE).read_bytes()))
    before = _contents(tmp_path)
    assert main(["predict-data", "--data", str(data), "--output", str(data)]) == 2
    assert f"error: --output: {data}: is also an input" in _one_error_line(capsys, "predict-data")
    assert _contents(tmp_path) == before


def test_predict_data_library_names_its_parameter(tmp_path, no_model_loading):
    from fer_hub.evaluation.predictions import predict_data

    data = tmp_path / "faces.csv"
    data.write_bytes(gzip.decompress(Path(FIXTURE).read_bytes()))
    with pytest.raises(ParameterError) as error:
        predict_data(None, str(data), "test", data)
    assert error.value.parameter == "output" and str(error.value).startswith(f"output: {data}: is also an input")


@pytest.mark.parametrize("output", ["DATA", "VOTES", "PNG_FOLDER"])
def test_evaluate_refuses_outputs_onto_its_inputs(output, tmp_path, no_model_loading, capsys):
    data = tmp_path / "faces.csv.gz"
    shutil.copy(FIXTURE, data)
    votes = tmp_path / "votes.csv"
    votes.write_text("votes\n")
    (tmp_path / "metrics_confusion_matrix.png").mkdir()
    target = {"DATA": data, "VOTES": votes, "PNG_FOLDER": tmp_path / "metrics.json"}[output]
    before = _contents(tmp_path)
    argv = ["evaluate", "--model", DEFAULT_MODEL, "--data", str(data), "--votes", str(votes), "--output", str(target)]
    assert main(argv) == 2
    line = _one_error_line(capsys, "evaluate")
    expected = "is a folder" if output == "PNG_FOLDER" else f"{target}: is also an input"
    assert line.startswith("fer-hub evaluate: error: --output: ") and expected in line
    assert _contents(tmp_path) == before


def test_export_onnx_refuses_to_overwrite_the_model_file(tmp_path, capsys):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"an onnx model")
    assert main(["export-onnx", "--model", str(model), "--output", str(model)]) == 2
    assert f"--output: {model}: is also an input" in _one_error_line(capsys, "export-onnx")
    assert model.read_bytes() == b"an onnx model"


def test_replaced_file_leaves_the_previous_file_on_failure_and_ctrl_c(tmp_path):
    from fer_hub.output_paths import replaced_file

    target = tmp_path / "out.csv"
    target.write_text("before")
    for error in (RuntimeError("disk full"), KeyboardInterrupt()):
        with pytest.raises(type(error)), replaced_file(target) as staging:
            assert staging.parent == tmp_path and staging.suffix == ".csv" and staging != target
            staging.write_text("half")
            raise error
        assert _contents(tmp_path) == {"out.csv": b"before"}
    with replaced_file(target) as staging:
        staging.write_text("after")
    assert _contents(tmp_path) == {"out.csv": b"after"}
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()  # an ordinary file, not mkstemp's 0600


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_table_writer_streams_into_a_temporary_file_renamed_at_the_end(tmp_path):
    from fer_hub.media.table_writer import TableWriter
    from fer_hub.media.video import FrameResult

    table = tmp_path / "rows.jsonl"
    table.write_text("the previous rows\n")
    with pytest.raises(KeyboardInterrupt), TableWriter(table, "jsonl") as writer:
        writer.write(FrameResult("a.jpg", None, None, []))
        assert table.read_text() == "the previous rows\n" and len(list(tmp_path.iterdir())) == 2
        raise KeyboardInterrupt
    assert _contents(tmp_path) == {"rows.jsonl": b"the previous rows\n"}


def test_an_interrupted_predict_leaves_the_previous_tables(work, monkeypatch, capsys):
    import fer_hub.cli.predict_media as predict_media
    from fer_hub.media.video import FrameResult, TrackedFace

    face = TrackedFace((1, 2, 3, 4), dict.fromkeys(LABELS, 1 / 7), 1)

    def interrupted(paths, *args, **kwargs):
        yield FrameResult(str(paths[0]), None, None, [face])
        raise KeyboardInterrupt

    monkeypatch.setattr(predict_media, "get_recognizer", lambda *args, **kwargs: None)
    monkeypatch.setattr(predict_media, "analyze_images", interrupted)
    monkeypatch.chdir(work)
    (work / "rows.csv").write_text("the previous rows\n")
    before = _contents(work)
    assert main(["predict", "photos", "--csv", "rows.csv", "--jsonl", "rows.jsonl"]) == 130
    assert "fer-hub predict: interrupted" in capsys.readouterr().err
    assert _contents(work) == before


def test_file_names_that_are_not_utf8_are_written_escaped(tmp_path, astronaut_png, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(astronaut_png).save(os.path.join(os.fsencode(photos), b"\xff.jpg"))
    table = tmp_path / "rows.csv"
    assert main(["predict", str(photos), "--csv", str(table), "--jsonl", str(tmp_path / "rows.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error" not in err
    with open(table, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert rows and {row["source"] for row in rows} == {f"{photos}/\\xff.jpg"}
    jsonl = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {row["source"] for row in jsonl} == {f"{photos}/\\xff.jpg"}
    assert main(["predict", str(photos)]) == 0  # printed as text too
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{photos}/\\xff.jpg: 1 face found") and "Traceback" not in captured.err
