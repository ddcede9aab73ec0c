"""Argument checks, run before any data or model is loaded: a bad value is a ParameterError naming the parameter
(the CLI shows the flag that sets it instead, on one `error:` line)."""

from __future__ import annotations

import errno
import ipaddress
import math
import re
import socket
from pathlib import Path

from .errors import FerHubError, ParameterError

HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
DOTTED_NUMBERS = re.compile(r"^[0-9.]+$")


def check_training_limits(max_steps: int | None, time_budget_minutes: float | None) -> None:
    if max_steps is not None and max_steps < 1:
        raise ParameterError("max_steps", f"must be at least 1, not {max_steps}")
    if time_budget_minutes is not None and not (math.isfinite(time_budget_minutes) and time_budget_minutes > 0):
        raise ParameterError(
            "time_budget_minutes", f"must be a positive, finite number of minutes, not {time_budget_minutes}"
        )


def check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise ParameterError("port", f"must be between 1 and 65535, not {port}")
    return port


def check_host(host: str) -> str:
    """An IPv4/IPv6 address or a syntactically valid host name (whether it resolves is `check_can_listen`'s job)."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if DOTTED_NUMBERS.match(host) or ":" in host:
        raise ParameterError("host", f"{host}: not a valid IP address")
    labels = host.rstrip(".").split(".")
    if not host or len(host) > 253 or not all(HOSTNAME_LABEL.match(label) for label in labels):
        raise ParameterError("host", f"{host!r}: not a valid host name or IP address")
    return host


def check_can_listen(host: str, port: int) -> None:
    """Bind (host, port) once, as the server will, so a busy port or an unknown host is one clear line."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as error:
        raise ParameterError("host", f"{host}: cannot be resolved to an address here ({error})") from None
    family, kind, protocol, _, address = infos[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no obstacle
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ParameterError("port", f"{port} is already in use on {host}; choose another port") from None
            raise FerHubError(f"cannot listen on {host}:{port} ({error.strerror or error})") from None


def is_repo_id(text: str) -> bool:
    """Whether `text` is a valid Hub repo id of the form OWNER/NAME."""
    from huggingface_hub.errors import HFValidationError  # here, not on top: `fer-hub --help` imports this module
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return text.count("/") == 1


def check_repo_id(repo_id: str) -> str:
    if not is_repo_id(repo_id):
        raise FerHubError(f"{repo_id!r}: expected a Hub repo id OWNER/NAME (letters, digits, '-', '_', '.')")
    return repo_id


def describe_kind(path: Path) -> str:
    """What a path that is not a regular file is, for messages: "a folder", "a FIFO (named pipe)", ..."""
    if path.is_dir():
        return "a folder"
    if path.is_fifo():
        return "a FIFO (named pipe)"
    if path.is_socket():
        return "a socket"
    if path.is_block_device() or path.is_char_device():
        return "a device"
    return "not a regular file"
