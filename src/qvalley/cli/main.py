"""``qvalley`` CLI entry point.

Exit codes: 0 success, 2 bad input (one line on stderr, ``PATH:LINE:COL: error: message`` for
format errors, never a traceback), 1 internal failure.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._errors import FormatError, QValleyError


class UsageError(QValleyError):
    """Bad command-line usage."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"qvalley: error: {message}", file=sys.stderr)
        raise SystemExit(2)


@contextmanager
def progress(label: str, delay: float = 2.0) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``(done, total)`` callback; show a bar on stderr only for a TTY after ``delay`` s."""
    state = {"done": 0, "total": 0}
    if not sys.stderr.isatty():
        yield lambda d, t: None
        return
    from rich.progress import Progress

    stop = threading.Event()

    def show() -> None:
        if stop.wait(delay):
            return
        with Progress(transient=True, console=None) as bar:
            task = bar.add_task(label, total=max(state["total"], 1))
            while not stop.wait(0.1):
                bar.update(task, completed=state["done"], total=max(state["total"], 1))

    th = threading.Thread(target=show, daemon=True)
    th.start()

    def update(done: int, total: int) -> None:
        state["done"], state["total"] = done, total

    try:
        yield update
    finally:
        stop.set()
        th.join(timeout=1)


def _int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {v}")
        return v

    return parse


_positive_int = _int_at_least(1, "positive")
_seed = _int_at_least(0, "non-negative")


def _qubit_list(text: str) -> list[int]:
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated qubit counts like 20,24,26, got {text!r}") from None
    if not vals or any(v < 1 or v > 40 for v in vals):
        raise argparse.ArgumentTypeError(f"qubit counts must be between 1 and 40, got {text!r}")
    return vals


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="qvalley", description="qvalley: circuits, formats and fast simulation.")
    from .. import __version__

    p.add_argument("--version", action="version", version=f"qvalley {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="sample measurement counts from a circuit file")
    r.add_argument("file")
    r.add_argument("--shots", type=_positive_int, default=1024)
    r.add_argument("--seed", type=_seed, default=None)
    r.add_argument("--precision", choices=("single", "double"), default="single")
    r.add_argument("--json", action="store_true", help="print JSON")

    s = sub.add_parser("statevector", help="write the final statevector to a .npy file")
    s.add_argument("file")
    s.add_argument("--out", required=True, help="output .npy path")
    s.add_argument("--precision", choices=("single", "double"), default="single")

    i = sub.add_parser("info", help="qubits, depth and gate counts of a circuit file")
    i.add_argument("file")
    i.add_argument("--json", action="store_true")

    c = sub.add_parser("convert", help="convert between .qasm (2), .qasm3, .qsim and .json")
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--to", choices=("qasm2", "qasm3", "qsim", "json"), default=None,
                   help="output format (default: from the output extension)")

    b = sub.add_parser("bench", help="statevector benchmark against installed peers")
    b.add_argument("--qubits", type=_qubit_list, default=[20, 24, 26])
    b.add_argument("--peers", action="store_true", help="also run qsim, Qiskit Aer, Qulacs")
    b.add_argument("--repeats", type=_positive_int, default=3)
    b.add_argument("--json", action="store_true")
    return p


def _load(path: str) -> Any:
    from ..formats import load

    return load(path)


def _console() -> Any:
    from rich.console import Console

    return Console()


def cmd_run(a: argparse.Namespace) -> int:
    from ..sim import get_simulator

    circuit = _load(a.file)
    sim = get_simulator("statevector", a.precision)
    with progress("simulating") as cb:
        sim.backend.on_progress = cb  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        result = sim.run(circuit, a.shots, a.seed)
        seconds = time.perf_counter() - t0
    if a.json:
        print(json.dumps({"counts": result.counts, "shots": result.shots,
                          "num_qubits": result.num_qubits, "method": result.method,
                          "seconds": seconds}))
        return 0
    from rich.table import Table

    t = Table(title=f"{a.file}: {result.num_qubits} qubits, {result.shots} shots, "
                    f"{seconds:.3f} s ({result.method}, {a.precision})")
    t.add_column("bitstring (bit 0 rightmost)")
    t.add_column("count", justify="right")
    t.add_column("fraction", justify="right")
    top = sorted(result.counts.items(), key=lambda kv: (-kv[1], kv[0]))
    for bits, k in top[:32]:
        t.add_row(bits or "(none)", str(k), f"{k / result.shots:.4f}")
    if len(top) > 32:
        t.caption = f"{len(top) - 32} more outcomes (use --json for all)"
    _console().print(t)
    return 0


def cmd_statevector(a: argparse.Namespace) -> int:
    import io

    import numpy as np

    from ..formats import write_atomic
    from ..sim import get_simulator

    out = Path(a.out)
    if out.suffix != ".npy":
        raise UsageError(f"{a.out}: error: --out must name a .npy file")
    if not out.parent.exists():
        raise UsageError(f"{a.out}: error: directory {str(out.parent)!r} does not exist")
    circuit = _load(a.file)
    sim = get_simulator("statevector", a.precision)
    with progress("simulating") as cb:
        sim.backend.on_progress = cb  # type: ignore[attr-defined]
        sv = sim.statevector(circuit)
    buf = io.BytesIO()
    np.save(buf, sv)
    write_atomic(out, buf.getvalue())
    print(f"wrote {out} ({sv.size} amplitudes, {sv.dtype}, qubit k = bit k of the index)",
          file=sys.stderr)
    return 0


def cmd_info(a: argparse.Namespace) -> int:
    c = _load(a.file)
    info = {"num_qubits": c.num_qubits, "num_clbits": c.num_clbits, "depth": c.depth(),
            "gate_counts": c.gate_counts}
    if a.json:
        print(json.dumps(info))
        return 0
    from rich.table import Table

    t = Table(title=f"{a.file}")
    t.add_column("property")
    t.add_column("value", justify="right")
    t.add_row("qubits", str(c.num_qubits))
    t.add_row("classical bits", str(c.num_clbits))
    t.add_row("depth", str(info["depth"]))
    t.add_row("operations", str(len(c)))
    for name, k in c.gate_counts.items():
        t.add_row(f"  {name}", str(k))
    _console().print(t)
    return 0


def cmd_convert(a: argparse.Namespace) -> int:
    from ..formats import dump, format_for_path

    fmt = a.to or format_for_path(a.output)
    if fmt == "qasm":
        fmt = "qasm2"
    if Path(a.input).resolve() == Path(a.output).resolve():
        raise UsageError(f"{a.output}: error: output would overwrite the input file")
    circuit = _load(a.input)
    dump(circuit, a.output, fmt)
    print(f"wrote {a.output} ({fmt})", file=sys.stderr)
    return 0


def cmd_bench(a: argparse.Namespace) -> int:
    from ..bench.statevector import format_table, run_benchmark

    def say(msg: str) -> None:
        if not a.json:
            print(msg, file=sys.stderr)

    result = run_benchmark(qubits=a.qubits, peers=a.peers, repeats=a.repeats, progress=say)
    if a.json:
        print(json.dumps(result))
    else:
        print(format_table(result))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "statevector": cmd_statevector,
    "info": cmd_info,
    "convert": cmd_convert,
    "bench": cmd_bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except FormatError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except QValleyError as exc:
        where = getattr(args, "file", None) or getattr(args, "input", None)
        prefix = f"{where}: error: " if where else "qvalley: error: "
        print(prefix + str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qvalley: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
