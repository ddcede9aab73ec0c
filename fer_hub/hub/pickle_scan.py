"""Recognising pickled data by content, never by file name, and never by unpickling: a pickle stream (any
protocol), a compressed one (gzip, zlib, bz2, xz/lzma: joblib's formats), a zip archive holding one (torch.save,
.npz), or a NumPy array of Python objects. What cannot be inspected (lz4 or zstd data, encrypted zip members)
counts as pickled: it is not published either."""

from __future__ import annotations

import ast
import bz2
import io
import lzma
import pickletools
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

PREFIX_BYTES = 1 << 20  # how much of a file, of a decompressed stream or of a zip member is inspected
ZIP_BUDGET_BYTES = 64 << 20  # decompressed bytes inspected across one zip's members; beyond: not inspectable
NUMPY_MAGIC = b"\x93NUMPY"
UNINSPECTABLE = (b"\x04\x22\x4d\x18", b"\x28\xb5\x2f\xfd")  # lz4 frame, zstd
ZLIB_HEADERS = (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda")
MIN_PROTOCOL_OPCODES = 8  # after a protocol header: no other format starts with 8 valid pickle opcodes
PICKLE_SUFFIXES = (".pkl", ".pickle")  # inside a zip, torch.save names its pickle data.pkl


def _pickle_stream(data: bytes, complete: bool) -> bool:
    """Whether `data` (a stream's start; all of it if `complete`) is a pickle: its opcodes decode up to STOP;
    or it opens with a protocol 2-5 header followed by MIN_PROTOCOL_OPCODES valid opcodes (joblib writes raw array
    bytes inside the stream); or, cut short, it decodes cleanly up to the cut."""
    stream = io.BytesIO(data)
    decoded, header = 0, False
    try:
        for opcode, argument, _ in pickletools.genops(stream):
            header = header or (decoded == 0 and opcode.name == "PROTO" and 2 <= argument <= 5)
            decoded += 1
            if opcode.name == "STOP" or (header and decoded >= MIN_PROTOCOL_OPCODES):
                return decoded >= 2
    except Exception:  # an invalid opcode or argument, or the cut when it comes at the very end of `data`
        return not complete and decoded >= 2 and stream.tell() >= len(data)
    return False


def _numpy_holds_objects(data: bytes) -> bool:
    """Whether an .npy header declares Python objects (stored pickled)."""
    try:
        major = data[6]
        if major == 1:
            (length,), start = struct.unpack("<H", data[8:10]), 10
        else:
            (length,), start = struct.unpack("<I", data[8:12]), 12
        header = ast.literal_eval(data[start : start + length].decode("utf-8" if major >= 3 else "latin1"))
        return np.lib.format.descr_to_dtype(header["descr"]).hasobject
    except (IndexError, struct.error, ValueError, SyntaxError, KeyError, TypeError, UnicodeDecodeError):
        return False  # not a loadable .npy


def _decompressed_start(data: bytes) -> tuple[bytes, bool] | None:
    """The start of the stream `data` compresses and whether that is all of it; None if `data` is not a
    compressed stream the standard library reads."""
    if data.startswith(b"\x1f\x8b"):
        decompressor = zlib.decompressobj(wbits=31)  # gzip
    elif data[:2] in ZLIB_HEADERS:
        decompressor = zlib.decompressobj()
    elif data.startswith(b"BZh"):
        decompressor = bz2.BZ2Decompressor()
    elif data.startswith((b"\xfd7zXZ\x00", b"\x5d\x00\x00")):
        decompressor = lzma.LZMADecompressor()
    else:
        return None
    try:
        start = decompressor.decompress(data, PREFIX_BYTES)
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
        return None  # corrupt: nothing could load it
    return start, decompressor.eof


def _is_pickled(data: bytes, complete: bool, depth: int = 0) -> bool:
    if _pickle_stream(data, complete) or data.startswith(UNINSPECTABLE):
        return True
    if data.startswith(NUMPY_MAGIC):
        return _numpy_holds_objects(data)
    inner = _decompressed_start(data) if depth < 2 else None
    return inner is not None and _is_pickled(*inner, depth=depth + 1)


def _zip_holds_pickles(path: Path) -> bool:
    budget = ZIP_BUDGET_BYTES
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if member.is_dir():
                    continue
                if member.filename.lower().endswith(PICKLE_SUFFIXES) or budget <= 0:
                    return True
                with archive.open(member) as stream:
                    start = stream.read(PREFIX_BYTES + 1)
                budget -= len(start)
                if _is_pickled(start[:PREFIX_BYTES], len(start) <= PREFIX_BYTES):
                    return True
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError, zlib.error, lzma.LZMAError):
        return True  # encrypted, unsupported or damaged members: not inspectable
    return False


def is_pickled(path: str | Path) -> bool:
    """Whether the file holds pickled data (or data fer-hub cannot inspect), judged by its bytes alone."""
    path = Path(path)
    with path.open("rb") as handle:
        start = handle.read(PREFIX_BYTES + 1)
    if _is_pickled(start[:PREFIX_BYTES], len(start) <= PREFIX_BYTES):
        return True
    return zipfile.is_zipfile(path) and _zip_holds_pickles(path)
