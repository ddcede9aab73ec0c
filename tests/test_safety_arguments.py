"""Bad arguments and output paths are one `error:` line (exit 2), found before any data or model is loaded."""

from __future__ import annotations

import socket
import sys
import types
from pathlib import Path

import pytest

from fer_hub.checks import check_host, check_port, check_training_limits
from fer_hub.cli.main import COMMANDS, build_parser, main
from fer_hub.errors import FerHubError, ParameterError
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
