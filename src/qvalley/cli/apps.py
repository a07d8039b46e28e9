"""Application commands: ``qvalley qaoa maxcut``, ``qvalley vqe``, ``qvalley traffic``,
``qvalley portfolio``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], int]


def _pos_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _table(title: str, rows: list[tuple[str, str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    t.add_column("quantity")
    t.add_column("value", justify="right")
    for k, v in rows:
        t.add_row(k, v)
    Console().print(t)


def cmd_qaoa_maxcut(a: argparse.Namespace) -> int:
    from ..apps.graphs import load_graph
    from ..apps.qaoa import qaoa_maxcut

    g = load_graph(a.graph)
    r = qaoa_maxcut(g, a.p, init=a.init)
    out = r.to_dict()
    if a.json:
        print(json.dumps(out))
        return 0
    _table(f"QAOA MaxCut, {a.graph}, p={a.p}", [
        ("nodes / edges", f"{r.num_nodes} / {r.num_edges}"),
        ("expected cut", f"{r.expected_cut:.6f}"),
        ("max cut (exact)", f"{r.max_cut:g}"),
        ("ratio", f"{r.ratio:.6f}"),
        ("most probable bitstring", f"{r.best_bitstring} (cut {r.best_cut:g}, p={r.probability:.3f})"),
        ("gamma", ", ".join(f"{x:.4f}" for x in r.gammas)),
        ("beta", ", ".join(f"{x:.4f}" for x in r.betas)),
    ])
    return 0


def register(sub: Any) -> dict[str, Handler]:
    q = sub.add_parser("qaoa", help="QAOA on the statevector (MaxCut)")
    qsub = q.add_subparsers(dest="qaoa_command", required=True, parser_class=type(q))
    mc = qsub.add_parser("maxcut", help="QAOA for MaxCut on a named graph or an edge-list file")
    mc.add_argument("--graph", required=True, help="cube, petersen, k33 or a FILE (edge list / JSON)")
    mc.add_argument("--p", type=_pos_int, default=1, help="QAOA depth")
    mc.add_argument("--init", choices=("interp", "ramp"), default="interp")
    mc.add_argument("--json", action="store_true")
    qaoa_handlers: dict[str, Handler] = {"maxcut": cmd_qaoa_maxcut}

    def dispatch_qaoa(a: argparse.Namespace) -> int:
        return qaoa_handlers[a.qaoa_command](a)

    handlers: dict[str, Handler] = {"qaoa": dispatch_qaoa}
    return handlers
