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
from importlib import import_module
from pathlib import Path
from typing import Any

from .._errors import DeviceError, FormatError, QValleyError
from ..emulator import METHODS


class UsageError(QValleyError):
    """Bad command-line usage."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, as for every other bad input; the usage is one `--help` away.
        print(f"{self.prog}: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
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
    r.add_argument("--device", default=None, help="run on an emulated processor (qvalley devices)")
    r.add_argument("--noise", action=argparse.BooleanOptionalAction, default=True,
                   help="with --device: model the device's calibrated noise (default: on)")
    r.add_argument("--method", choices=METHODS, default="auto",
                   help="simulation method; auto explains its choice in --json output")

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

    d = sub.add_parser("devices", help="list the emulated processors")
    d.add_argument("--json", action="store_true")

    ds = sub.add_parser("device", help="one processor: layout, native gates, calibration")
    dsub = ds.add_subparsers(dest="device_command", required=True, parser_class=_Parser)
    show = dsub.add_parser("show", help="a device profile and its calibration at a time")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.add_argument("--at", default=None, help="ISO 8601 time of the calibration (default: now)")

    tp = sub.add_parser("transpile", help="map a circuit onto a device's layout and native gates")
    tp.add_argument("file")
    tp.add_argument("--device", required=True)
    tp.add_argument("-o", "--out", required=True, help="output circuit (.qasm, .qasm3, .qsim, .json)")
    tp.add_argument("--seed", type=_seed, default=0)
    tp.add_argument("--optimization-level", type=int, choices=(0, 1, 2, 3), default=2)
    tp.add_argument("--json", action="store_true")

    xb = sub.add_parser("xeb", help="random circuit sampling on a device, scored by linear XEB")
    xb.add_argument("--device", required=True)
    xb.add_argument("--qubits", type=_positive_int, required=True)
    xb.add_argument("--cycles", type=_int_at_least(0, "cycles"), required=True)
    xb.add_argument("--shots", type=_positive_int, default=2000)
    xb.add_argument("--seed", type=_seed, default=0)
    xb.add_argument("--noise", action=argparse.BooleanOptionalAction, default=True)
    xb.add_argument("--plot", default=None, help="also write a PNG of XEB against cycles")
    xb.add_argument("--method", choices=("auto", "tensornet"), default="auto",
                    help="tensornet: tensor-network sampling and ideal probabilities (any size)")
    xb.add_argument("--json", action="store_true")

    rc = sub.add_parser("rcs", help="write a random circuit (RCS) for a region of a device")
    rc.add_argument("--device", required=True)
    rc.add_argument("--qubits", type=_positive_int, required=True)
    rc.add_argument("--cycles", type=_int_at_least(0, "cycles"), required=True)
    rc.add_argument("--seed", type=_seed, default=0)
    rc.add_argument("--pattern", default="ABCDCDAB", help="coupler pattern sequence")
    rc.add_argument("-o", "--out", required=True, help="output circuit (.qasm, .qasm3, .qsim, .json)")
    rc.add_argument("--json", action="store_true")

    for name in GROUPS:  # command groups that live in their own modules
        COMMANDS.update(import_module(f"{__package__}.{name}").register(sub))
    return p


def _load(path: str) -> Any:
    from ..formats import load

    return load(path)


def _console() -> Any:
    from rich.console import Console

    return Console()


def cmd_run(a: argparse.Namespace) -> int:
    from ..sim import get_simulator

    if a.device is not None:
        return _run_on_device(a)
    if a.method == "tensornet":
        from .tensornet import run_tensornet

        return run_tensornet(a)
    if a.method not in ("auto", "statevector"):
        raise UsageError(f"qvalley: error: --method {a.method} needs --device (the noise comes "
                         "from the device's calibration)")
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


def _run_on_device(a: argparse.Namespace) -> int:
    from ..emulator import run_on_device

    circuit = _load(a.file)
    dev = _device(a.device)
    with progress("simulating"):
        r = run_on_device(circuit, dev, shots=a.shots, seed=a.seed, noise=a.noise,
                          method=a.method, precision=a.precision)
    if a.json:
        print(json.dumps(r.to_dict()))
        return 0
    from rich.table import Table

    t = Table(title=f"{a.file} on {r.device}: {r.num_qubits} qubits, {r.shots} shots, "
                    f"{r.seconds:.3f} s ({r.method}{', noisy' if r.noise else ''}"
                    f"{', transpiled' if r.transpiled else ''})")
    t.add_column("bitstring (bit 0 rightmost)")
    t.add_column("count", justify="right")
    t.add_column("fraction", justify="right")
    top = sorted(r.counts.items(), key=lambda kv: (-kv[1], kv[0]))
    for bits, k in top[:32]:
        t.add_row(bits or "(none)", str(k), f"{k / r.shots:.4f}")
    t.caption = r.reason + (f"; {len(top) - 32} more outcomes (use --json)" if len(top) > 32 else "")
    _console().print(t)
    return 0


def cmd_transpile(a: argparse.Namespace) -> int:
    from ..devices import calibration_at
    from ..formats import dump, format_for_path
    from ..transpile import transpile

    fmt = format_for_path(a.out)
    if Path(a.file).resolve() == Path(a.out).resolve():
        raise UsageError(f"{a.out}: error: output would overwrite the input file")
    circuit = _load(a.file)
    dev = _device(a.device)
    r = transpile(circuit, dev, calibration=calibration_at(dev), seed=a.seed,
                  optimization_level=a.optimization_level)
    dump(r.circuit, a.out, fmt)
    if a.json:
        print(json.dumps(r.to_dict()))
    else:
        print(f"wrote {a.out}: {r.two_qubit_gates} two-qubit gates, depth {r.depth}, "
              f"{r.seconds:.2f} s; initial layout {r.initial_layout}, final {r.final_layout}",
              file=sys.stderr)
    return 0


def cmd_xeb(a: argparse.Namespace) -> int:
    from ..bench.xeb import plot_xeb, run_xeb

    dev = _device(a.device)
    if a.plot is not None and not a.plot.lower().endswith(".png"):
        raise UsageError(f"{a.plot}: error: --plot must name a .png file")
    if a.plot is not None and not Path(a.plot).resolve().parent.is_dir():
        raise UsageError(f"{a.plot}: error: the folder does not exist")
    if getattr(a, "method", "auto") == "tensornet":
        from .tensornet import tensornet_xeb as run_xeb  # type: ignore[assignment]
    with progress("sampling"):
        r = run_xeb(dev, a.qubits, a.cycles, a.shots, a.seed, a.noise)
        points = [r.to_dict()]
        if a.plot is not None:
            for m in sorted({max(1, round(a.cycles * f)) for f in (0.25, 0.5, 0.75)} - {a.cycles}):
                points.append(run_xeb(dev, a.qubits, m, a.shots, a.seed, a.noise).to_dict())
    if a.plot is not None:
        plot_xeb(points, a.plot, title=f"{dev.name}, {a.qubits} qubits")
    if a.json:
        print(json.dumps(r.to_dict()))
    else:
        print(f"{dev.name}, {r.num_qubits} qubits on {list(r.region)}, {r.cycles} cycles, "
              f"{r.shots} shots: XEB = {r.xeb:.4f} ± {r.xeb_stderr:.4f}; digital error model "
              f"predicts {r.predicted_fidelity:.4f}; ideal sampling would score {r.ideal_xeb:.4f} "
              f"({r.seconds:.1f} s)")
        if a.plot is not None:
            print(f"wrote {a.plot}", file=sys.stderr)
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


def _device(name: str) -> Any:
    from ..devices import get_device

    return get_device(name)


def cmd_devices(a: argparse.Namespace) -> int:
    from ..devices import get_device, list_devices

    rows: list[dict[str, Any]] = []
    for name in list_devices():
        dev = get_device(name)
        rows.append({"name": dev.name, "num_qubits": dev.num_qubits,
                     "couplers": [list(c) for c in dev.coupling_map()],
                     "native_gates": list(dev.native_gates), "modelled": dev.modelled})
    if a.json:
        print(json.dumps(rows))
        return 0
    from rich.table import Table

    t = Table(title="qvalley devices")
    for col in ("name", "qubits", "couplers", "native gates", "data"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["name"], str(r["num_qubits"]), str(len(r["couplers"])) if r["couplers"] else
                  "all-to-all", " ".join(r["native_gates"]) if len(r["native_gates"]) < 8 else
                  f"all {len(r['native_gates'])}", "modelled" if r["modelled"] else "published")
    _console().print(t)
    return 0


def cmd_device(a: argparse.Namespace) -> int:
    from ..devices import calibration_at

    dev = _device(a.name)
    cal = calibration_at(dev, a.at)
    if a.json:
        print(json.dumps({"profile": dev.to_dict(), "calibration": cal.to_dict() if cal else None}))
        return 0
    from rich.table import Table

    t = Table(title=f"{dev.name} ({'modelled' if dev.modelled else 'published'} data)")
    t.add_column("property")
    t.add_column("value")
    t.add_row("qubits", str(dev.num_qubits))
    t.add_row("couplers", str(len(dev.coupling_map())) if dev.couplers is not None else "all-to-all")
    t.add_row("native gates", " ".join(dev.native_gates))
    t.add_row("description", dev.description)
    if cal is not None:
        avg = cal.averages()
        t.add_row("calibration", f"{cal.id} at {cal.timestamp}")
        t.add_row("mean T1 / T2 (µs)", f"{avg['t1'] * 1e6:.1f} / {avg['t2'] * 1e6:.1f}")
        t.add_row("mean 1q error", f"{avg['error_1q']:.4%}")
        if "error_2q" in avg:
            t.add_row("mean 2q error", f"{avg['error_2q']:.4%}")
        t.add_row("mean readout error", f"{avg['readout_error']:.4%}")
    for key, published in dev.averages.items():
        v = published.value
        shown = f"{v * 1e6:.1f} µs" if key.startswith("t") else f"{v:.4%}"
        t.add_row(f"published {key}", f"{shown} ({published.source})")
    for src in dev.sources:
        t.add_row("source", src)
    _console().print(t)
    return 0


def cmd_rcs(a: argparse.Namespace) -> int:
    from ..bench.xeb import device_rcs
    from ..devices import calibration_at
    from ..formats import dump, format_for_path

    dev = _device(a.device)
    fmt = format_for_path(a.out)
    inst = device_rcs(dev, a.qubits, a.cycles, a.seed, a.pattern, calibration_at(dev))
    dump(inst.circuit, a.out, fmt)
    info = {"device": dev.name, "num_qubits": a.qubits, "cycles": a.cycles, "seed": a.seed,
            "pattern": inst.sequence, "region": list(inst.region), "out": a.out,
            "gate_counts": inst.circuit.gate_counts}
    if a.json:
        print(json.dumps(info))
    else:
        print(f"wrote {a.out}: {a.qubits}-qubit, {a.cycles}-cycle random circuit on {dev.name} "
              f"qubits {list(inst.region)} (virtual qubit v = physical region[v])", file=sys.stderr)
    return 0


# Modules of qvalley.cli that add command groups: each has ``register(subparsers)`` returning
# ``{command name: handler}``; a handler takes the parsed namespace and returns the exit code.
GROUPS: tuple[str, ...] = ("qkd", "apps", "tensornet", "cloud")

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "statevector": cmd_statevector,
    "info": cmd_info,
    "convert": cmd_convert,
    "bench": cmd_bench,
    "devices": cmd_devices,
    "device": cmd_device,
    "rcs": cmd_rcs,
    "transpile": cmd_transpile,
    "xeb": cmd_xeb,
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
        from .cloud import CloudCliError

        where = getattr(args, "file", None) or getattr(args, "input", None)
        # the device's, the server's or a message that names its own file: no file prefix
        if isinstance(exc, DeviceError | CloudCliError):
            where = None
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
