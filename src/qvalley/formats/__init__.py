"""Circuit text formats: OpenQASM 2, OpenQASM 3, qsim, and qvalley's own JSON.

Each format module exposes ``loads(text, path=None) -> Circuit`` and ``dumps(circuit) -> str``.
Errors are :class:`~qvalley.FormatError` (``QasmError`` for OpenQASM) carrying path, line, column.
"""

from __future__ import annotations

import importlib
import os
import re
import tempfile
from pathlib import Path
from types import ModuleType

from .._errors import FormatError
from ..circuit import Circuit

FORMATS = ("qasm2", "qasm3", "qsim", "json")
_EXTENSIONS = {".qasm": "qasm", ".qasm2": "qasm2", ".qasm3": "qasm3", ".qsim": "qsim",
               ".json": "json"}
_ALIASES = {"openqasm2": "qasm2", "openqasm3": "qasm3", "qasm": "qasm"}
_VERSION = re.compile(r"^\s*(?://[^\n]*\n\s*|/\*.*?\*/\s*)*OPENQASM\s+(\d+)", re.S)


def _module(fmt: str) -> ModuleType:
    return importlib.import_module(f".{fmt}", __name__)


def _norm(fmt: str) -> str:
    f = _ALIASES.get(fmt.lower(), fmt.lower())
    if f not in FORMATS and f != "qasm":
        raise FormatError(f"unknown format '{fmt}' (choose from {', '.join(FORMATS)})")
    return f


def qasm_version(text: str) -> str:
    """``'qasm3'`` when the program declares ``OPENQASM 3``, else ``'qasm2'``."""
    m = _VERSION.match(text)
    return "qasm3" if m and m.group(1) == "3" else "qasm2"


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The format named by a file's extension (``.qasm`` resolves on its header later)."""
    ext = Path(path).suffix.lower()
    if ext not in _EXTENSIONS:
        raise FormatError(
            f"cannot tell the format from extension '{ext or '(none)'}' "
            f"(use .qasm, .qasm3, .qsim or .json, or name the format)", path=str(path))
    return _EXTENSIONS[ext]


def loads(text: str, format: str = "qasm", path: str | None = None) -> Circuit:
    """Parse ``text`` in ``format`` (``qasm`` picks OpenQASM 2 or 3 from the header)."""
    fmt = _norm(format)
    if fmt == "qasm":
        fmt = qasm_version(text)
    if fmt == "json":
        try:
            return Circuit.from_json(text)
        except ValueError as exc:
            raise FormatError(str(exc), path=path) from None
    return _module(fmt).loads(text, path=path)  # type: ignore[no-any-return]


def dumps(circuit: Circuit, format: str = "qasm2") -> str:
    """Write ``circuit`` as text in ``format`` (``qasm`` means OpenQASM 2)."""
    fmt = _norm(format)
    if fmt == "qasm":
        fmt = "qasm2"
    if fmt == "json":
        return circuit.to_json()
    return _module(fmt).dumps(circuit)  # type: ignore[no-any-return]


def load(path: str | os.PathLike[str], format: str | None = None) -> Circuit:
    """Read a circuit file; the format comes from the extension unless ``format`` is given."""
    fmt = _norm(format) if format else format_for_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError("no such file", path=str(path)) from None
    except IsADirectoryError:
        raise FormatError("is a directory, not a circuit file", path=str(path)) from None
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 text ({exc.reason})", path=str(path)) from None
    except OSError as exc:
        raise FormatError(exc.strerror or str(exc), path=str(path)) from None
    try:
        return loads(text, fmt, path=str(path))
    except FormatError as exc:
        if exc.path is None:
            raise exc.with_path(str(path)) from None
        raise


def dump(circuit: Circuit, path: str | os.PathLike[str], format: str | None = None) -> None:
    """Write ``circuit`` to ``path`` atomically (a temporary file renamed into place)."""
    fmt = _norm(format) if format else format_for_path(path)
    text = dumps(circuit, fmt)
    write_atomic(path, text.encode("utf-8"))


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the whole new one, never half."""
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    except OSError as exc:
        raise FormatError(f"cannot write here: {exc.strerror}", path=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


__all__ = ["FORMATS", "dump", "dumps", "format_for_path", "load", "loads", "qasm_version",
           "write_atomic"]
