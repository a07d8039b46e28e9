"""Subcommands of ``qvalley qkd`` (see :mod:`qvalley.cli.qkd`): ``keyrate`` and ``link``.

km and dB/km are converted to SI here, at the edge; the library works in metres.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..network.qkd.errors import QKDError

Handler = Callable[[argparse.Namespace], int]


def _float(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--{name} must be a number, got {text!r}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"--{name} must be finite, got {text!r}")
        return v

    return parse


def _int_min(name: str, lo: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            v = int(float(text)) if "e" in text.lower() else int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--{name} must be an integer, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"--{name} must be >= {lo}, got {text!r}")
        return v

    return parse


def register(qsub: Any) -> dict[str, Handler]:
    from ..network.qkd.physics import DECOY_MODELS, LinkParameters

    g = LinkParameters.gys()
    kr = qsub.add_parser("keyrate", help="secure key rate of a decoy-state BB84 fibre link (GYS defaults)")
    where = kr.add_mutually_exclusive_group(required=True)
    where.add_argument("--distance", type=_float("distance"), metavar="KM", help="fibre length in km")
    where.add_argument("--max-distance", action="store_true", help="report the maximum distance only")
    kr.add_argument("--decoy", choices=DECOY_MODELS, default="vacuum+weak")
    kr.add_argument("--mu", type=_float("mu"), default=None, help="signal intensity (default: optimise)")
    kr.add_argument("--nu", type=_float("nu"), default=None, help="weak decoy intensity (default 0.05)")
    kr.add_argument("--alpha", type=_float("alpha"), default=g.alpha_db_per_km, help="fibre loss, dB/km")
    kr.add_argument("--eta-bob", type=_float("eta-bob"), default=g.eta_bob)
    kr.add_argument("--y0", type=_float("y0"), default=g.y0)
    kr.add_argument("--ed", type=_float("ed"), default=g.e_d)
    kr.add_argument("--f", type=_float("f"), default=g.f)
    kr.add_argument("--q", type=_float("q"), default=g.q)
    kr.add_argument("--rate", type=_float("rate"), default=g.rate_hz, metavar="HZ")
    kr.add_argument(
        "--block-size",
        type=_float("block-size"),
        default=None,
        help="finite-size block in pulses (default: asymptotic)",
    )
    kr.add_argument("--plot", default=None, metavar="PNG", help="also draw rate vs distance to a PNG")
    kr.add_argument("--json", action="store_true")

    ln = qsub.add_parser("link", help="simulate a BB84 link pulse by pulse with full post-processing")
    ln.add_argument("--distance", type=_float("distance"), required=True, metavar="KM")
    ln.add_argument("--pulses", type=_int_min("pulses", 1000), default=50_000_000)
    ln.add_argument("--eve", choices=("none", "intercept-resend", "pns"), default="none")
    ln.add_argument("--seed", type=_int_min("seed", 0), default=None)
    ln.add_argument("--json", action="store_true")
    return {"keyrate": cmd_keyrate, "link": cmd_link}


def _params(a: argparse.Namespace) -> Any:
    from ..network.qkd.physics import LinkParameters

    return LinkParameters(
        alpha_db_per_km=a.alpha, eta_bob=a.eta_bob, y0=a.y0, e_d=a.ed, f=a.f, q=a.q, rate_hz=a.rate
    )


def cmd_keyrate(a: argparse.Namespace) -> int:
    from ..network.qkd.physics import key_rate, max_distance

    if a.plot is not None:
        if not a.plot.lower().endswith(".png"):
            raise QKDError(f"{a.plot}: --plot must name a .png file")
        if not Path(a.plot).resolve().parent.is_dir():
            raise QKDError(f"{a.plot}: the folder for --plot does not exist")
    if a.distance is not None and a.distance < 0:
        raise QKDError(f"--distance must be >= 0 km, got {a.distance}")
    p = _params(a)
    kw = {"block_size": a.block_size}
    dmax = max_distance(p, a.decoy, a.mu, a.nu, **kw)
    d_m = dmax if a.max_distance else a.distance * 1e3
    r = key_rate(p, d_m, a.decoy, a.mu, a.nu, **kw)
    out = {
        "rate_per_pulse": r.rate_per_pulse,
        "rate_bps": r.rate_bps,
        "mu": r.mu,
        "qber": r.qber,
        "gain": r.gain,
        "max_distance_km": dmax / 1e3,
    }
    if a.plot is not None:
        _plot(a.plot, p, a.decoy, a.mu, a.nu, a.block_size, dmax)
    if a.json:
        print(json.dumps(out))
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"decoy-state BB84, decoy={a.decoy}, {d_m / 1e3:.2f} km")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    for k, v in out.items():
        t.add_row(k, f"{v:.6g}")
    Console().print(t)
    return 0


def _plot(
    path: str, p: Any, decoy: str, mu: float | None, nu: float | None, block: float | None, dmax: float
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..network.qkd.physics import key_rate, max_distance

    models = ["none", "infinite", "vacuum+weak"]
    far = max(dmax, max(max_distance(p, m, mu, nu, block_size=block) for m in models))
    xs = np.linspace(0.0, far * 1.02 + 1.0, 120)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for m in models:
        ys = [key_rate(p, float(x), m, mu, nu, block_size=block).rate_per_pulse for x in xs]
        ax.semilogy(xs / 1e3, np.maximum(ys, 1e-12), lw=2.4 if m == decoy else 1.2, label=m)
    ax.set_ylim(1e-9, 1e-1)
    ax.set_xlabel("fibre length (km)")
    ax.set_ylabel("secure key rate (bits per pulse)")
    ax.set_title(f"decoy-state BB84 (alpha={p.alpha_db_per_km} dB/km, eta_Bob={p.eta_bob})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=str(Path(path).resolve().parent))
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)


def cmd_link(a: argparse.Namespace) -> int:
    from ..network.qkd.physics import LinkParameters
    from ..network.qkd.protocol import run_link

    if a.distance < 0:
        raise QKDError(f"--distance must be >= 0 km, got {a.distance}")
    r = run_link(LinkParameters.gys(), a.distance * 1e3, a.pulses, eve=a.eve, seed=a.seed)
    out = {
        "sifted_bits": r.sifted_bits,
        "qber": r.qber,
        "leaked_ec_bits": r.leaked_ec_bits,
        "ec_efficiency": r.ec_efficiency,
        "secret_bits": r.secret_bits,
        "aborted": r.aborted,
        "abort_reason": r.abort_reason,
        "seconds": r.seconds,
    }
    if a.json:
        print(json.dumps(out))
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"BB84 link, {a.distance:g} km, {a.pulses} pulses, eve={a.eve}")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    for k, v in out.items():
        t.add_row(k, f"{v:.6g}" if isinstance(v, float) else str(v))
    Console().print(t)
    return 0
