"""Application commands: ``qvalley qaoa maxcut``, ``qvalley vqe``, ``qvalley traffic``,
``qvalley portfolio``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], int]
# = qvalley.apps.optimizers.METHODS (kept literal so that building the parser imports no numerics)
OPTIMIZERS = ("L-BFGS-B", "BFGS", "SLSQP", "COBYLA", "SPSA", "Adam")


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
    if a.device is not None:
        from ..apps.qaoa import sample_on_device
        from ..apps.qubo import maxcut_qubo

        d = sample_on_device(maxcut_qubo(g), r.gammas, r.betas, a.device, shots=a.shots,
                             seed=a.seed)
        out["device"] = {"device": d["device"], "shots": d["shots"], "method": d["method"],
                         "expected_cut": -d["mean_energy"], "best_cut": -d["best_energy"],
                         "best_bitstring": d["best_bitstring"]}
    if a.json:
        print(json.dumps(out))
        return 0
    if "device" in out:
        dv = out["device"]
        print(f"on {dv['device']} ({dv['shots']} shots, {dv['method']}): mean cut "
              f"{dv['expected_cut']:.4f}, best sampled cut {dv['best_cut']:g} ({dv['best_bitstring']})")
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


def _bond(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a bond length in Å, got {text!r}") from None
    if not 0 < v < 20:
        raise argparse.ArgumentTypeError(f"bond length must be in (0, 20) Å, got {v}")
    return v


def _scan(text: str) -> list[float]:
    try:
        lo, hi, step = (float(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP:STEP in Å, got {text!r}") from None
    if not (0 < lo <= hi and step > 0) or (hi - lo) / step > 200:
        raise argparse.ArgumentTypeError(f"bad scan {text!r}: need 0 < START <= STOP, STEP > 0, "
                                         "at most 200 points")
    return [round(lo + k * step, 6) for k in range(round((hi - lo) / step) + 1)]


def cmd_vqe(a: argparse.Namespace) -> int:
    from ..apps.chemistry import ANGSTROM, load_molecule
    from ..apps.vqe import dissociation_curve, run_vqe

    kw = {"ansatz": a.ansatz, "optimizer": a.optimizer, "layers": a.layers, "maxiter": a.maxiter,
          "seed": a.seed, "mapping": "parity" if a.mapping == "parity" else "jordan_wigner",
          "two_qubit_reduction": a.mapping == "parity"}
    if a.scan is not None:
        curve = dissociation_curve(a.molecule, [r * ANGSTROM for r in a.scan], **kw)
        rows = [{"bond_length": r / ANGSTROM, **res.to_dict()} for r, res in curve]
        if a.plot:
            _plot_curve(a.plot, a.molecule, rows)
        if a.json:
            print(json.dumps({"molecule": a.molecule, "points": rows}))
            return 0
        from rich.console import Console
        from rich.table import Table

        t = Table(title=f"{a.molecule} dissociation curve, {a.ansatz}, {a.optimizer}")
        for c in ("R (Å)", "E_VQE (Ha)", "E_FCI (Ha)", "error (mHa)", "E_HF (Ha)"):
            t.add_column(c, justify="right")
        for r in rows:
            err = "" if r["error"] is None else f"{r['error'] * 1e3:.3f}"
            ref = "" if r["reference_energy"] is None else f"{r['reference_energy']:.7f}"
            t.add_row(f"{r['bond_length']:.3f}", f"{r['energy']:.7f}", ref, err,
                      f"{r['hf_energy']:.7f}")
        Console().print(t)
        return 0
    if a.bond_length is None:
        from ..apps._errors import AppsError

        raise AppsError("qvalley vqe: give --bond-length Å (or --scan START:STOP:STEP)")
    mol = load_molecule(a.molecule, a.bond_length * ANGSTROM)
    res = run_vqe(mol, **kw)
    out = res.to_dict()
    if a.device is not None and a.train_on_device:
        from ..apps.measure import vqe_on_device

        out["device"] = vqe_on_device(
            mol, a.device, shots=a.shots, layers=a.layers, mapping=kw["mapping"],
            two_qubit_reduction=bool(kw["two_qubit_reduction"]),
            optimizer=a.optimizer if a.optimizer in ("Adam", "SPSA") else "Adam",
            maxiter=min(a.maxiter, 200), seed=a.seed)
        out["device"]["energy"] = out["device"]["estimated_energy"]
        out["device"]["stderr"] = None
    elif a.device is not None:
        from ..apps.measure import device_energy

        out["device"] = device_energy(mol, res, a.device, shots=a.shots, seed=a.seed)
    if a.json:
        print(json.dumps(out))
        return 0
    table: list[tuple[str, str]] = [
            ("molecule", f"{a.molecule} at {a.bond_length:g} Å, {res.num_qubits} qubits"),
            ("ansatz / parameters", f"{res.ansatz} / {res.num_parameters}"),
            ("VQE energy (Ha)", f"{res.energy:.7f}"),
            ("FCI energy (Ha)", "" if res.reference_energy is None else f"{res.reference_energy:.7f}"),
            ("error (mHa)", "" if res.error is None else f"{res.error * 1e3:.4f}"),
            ("HF energy (Ha)", f"{res.hf_energy:.7f}"),
            ("iterations / evaluations", f"{res.iterations} / {res.evaluations}"),
            ("seconds", f"{res.seconds:.3f}")]
    if "device" in out:
        d = out["device"]
        if d.get("stderr") is None:
            table.append((f"trained on {d['device']} ({d['shots']} shots/group, {d['optimizer']}, "
                          f"{d['iterations']} it.)", f"{d['energy']:.5f}"))
            table.append(("exact energy of the device-trained parameters",
                          f"{d['exact_energy_of_parameters']:.5f}"))
        else:
            table.append((f"energy on {d['device']} ({d['shots']} shots/group)",
                          f"{d['energy']:.5f} ± {d['stderr']:.5f}"))
    _table(f"VQE {a.molecule}", table)
    return 0


def _plot_curve(path: str, molecule: str, rows: list[dict[str, Any]]) -> None:
    import os
    import tempfile

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = [p["bond_length"] for p in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(r, [p["hf_energy"] for p in rows], "s--", label="Hartree-Fock")
    if all(p["reference_energy"] is not None for p in rows):
        ax.plot(r, [p["reference_energy"] for p in rows], "k-", label="FCI (PySCF)")
    ax.plot(r, [p["energy"] for p in rows], "o", label="VQE")
    ax.set_xlabel("bond length (Å)")
    ax.set_ylabel("energy (Ha)")
    ax.set_title(f"{molecule} STO-3G dissociation curve")
    ax.legend()
    fig.tight_layout()
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=120)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)


def cmd_traffic(a: argparse.Namespace) -> int:
    from ..apps.traffic import build_problem, default_cars, load_network, plot_traffic, solve_traffic

    g = load_network(a.network)
    prob = build_problem(g, default_cars(g, a.cars, a.seed), a.routes)
    res, before, after = solve_traffic(prob, p=a.p, seed=a.seed)
    if a.plot:
        plot_traffic(a.plot, g, prob, before, after)
    out = res.to_dict()
    out["cars"] = [list(c) for c in prob.cars]
    if a.json:
        print(json.dumps(out))
        return 0
    _table(f"traffic: {a.cars} cars × {a.routes} routes ({res.num_qubits} qubits)", [
        ("congestion Σ load², shortest routes", f"{res.before:g}"),
        ("congestion, exact optimum", f"{res.exact:g}"),
        (f"congestion, QAOA p={res.p}", f"{res.qaoa:g}"),
        ("congestion, simulated annealing", f"{res.annealing:g}"),
        ("QAOA probability of a valid assignment", f"{res.qaoa_feasible_probability:.3f}"),
        ("max road load before / after", f"{res.max_load_before:g} / {res.max_load_after:g}"),
        ("route chosen per car (0 = shortest)", " ".join(map(str, res.choice))),
    ])
    return 0


def cmd_portfolio(a: argparse.Namespace) -> int:
    from ..apps.portfolio import Portfolio, solve_portfolio

    pf = Portfolio.from_file(a.file)
    res = solve_portfolio(pf, p=a.p, seed=a.seed)
    out = res.to_dict()
    out["assets"] = list(pf.assets)
    if a.json:
        print(json.dumps(out))
        return 0
    _table(f"portfolio: {len(pf.assets)} assets, q={pf.risk_factor:g}, budget {pf.budget}", [
        ("exact selection", f"{list(res.exact)} (value {res.exact_value:.6f})"),
        (f"QAOA p={res.p} selection", f"{list(res.qaoa)} (value {res.qaoa_value:.6f}, "
                                      f"p={res.qaoa_probability:.3f})"),
        ("annealing selection", f"{list(res.annealing)} (value {res.annealing_value:.6f})"),
        ("assets bought", ", ".join(n for n, b in zip(pf.assets, res.exact, strict=True) if b)),
    ])
    return 0


def register(sub: Any) -> dict[str, Handler]:
    q = sub.add_parser("qaoa", help="QAOA on the statevector (MaxCut)")
    qsub = q.add_subparsers(dest="qaoa_command", required=True, parser_class=type(q))
    mc = qsub.add_parser("maxcut", help="QAOA for MaxCut on a named graph or an edge-list file")
    mc.add_argument("--graph", required=True, help="cube, petersen, k33 or a FILE (edge list / JSON)")
    mc.add_argument("--p", type=_pos_int, default=1, help="QAOA depth")
    mc.add_argument("--init", choices=("interp", "ramp"), default="interp")
    mc.add_argument("--device", default=None,
                    help="also sample the optimised circuit on this emulated device (with its noise)")
    mc.add_argument("--shots", type=_pos_int, default=2000)
    mc.add_argument("--seed", type=int, default=0)
    mc.add_argument("--json", action="store_true")
    qaoa_handlers: dict[str, Handler] = {"maxcut": cmd_qaoa_maxcut}

    def dispatch_qaoa(a: argparse.Namespace) -> int:
        return qaoa_handlers[a.qaoa_command](a)

    handlers: dict[str, Handler] = {"qaoa": dispatch_qaoa}

    v = sub.add_parser("vqe", help="VQE for H2 / LiH (STO-3G) on the statevector, optional device")
    v.add_argument("--molecule", required=True, choices=("H2", "LiH"))
    v.add_argument("--bond-length", type=_bond, default=None, help="bond length in Å")
    v.add_argument("--scan", type=_scan, default=None, metavar="START:STOP:STEP",
                   help="dissociation curve over bond lengths in Å")
    v.add_argument("--plot", default=None, help="with --scan: write a PNG of the curve")
    v.add_argument("--ansatz", choices=("uccsd", "hea"), default="uccsd")
    v.add_argument("--layers", type=_pos_int, default=2, help="hardware-efficient layers")
    v.add_argument("--mapping", choices=("jw", "parity"), default="jw",
                   help="jw: Jordan-Wigner; parity: parity mapping with two-qubit reduction (hea)")
    v.add_argument("--optimizer", choices=OPTIMIZERS, default="L-BFGS-B")
    v.add_argument("--maxiter", type=_pos_int, default=1000)
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--device", default=None,
                   help="also estimate the final energy with shots on this emulated device")
    v.add_argument("--shots", type=_pos_int, default=4000)
    v.add_argument("--train-on-device", action="store_true",
                   help="with --device (and --ansatz hea): also optimise with shots on the device, "
                        "parameter-shift gradients, Adam or SPSA (--optimizer), at most 200 iterations")
    v.add_argument("--json", action="store_true")
    handlers["vqe"] = cmd_vqe

    t = sub.add_parser("traffic", help="route cars to minimise congestion (QUBO: QAOA, annealing, exact)")
    t.add_argument("--network", default=None, help="road network JSON (default: shipped 4x4 city grid)")
    t.add_argument("--cars", type=_pos_int, default=4)
    t.add_argument("--routes", type=_pos_int, default=3, help="candidate routes per car")
    t.add_argument("--p", type=_pos_int, default=2, help="QAOA depth")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--plot", default=None, help="write a PNG of road loads before/after")
    t.add_argument("--json", action="store_true")
    handlers["traffic"] = cmd_traffic

    pf = sub.add_parser("portfolio", help="Markowitz portfolio with a budget as a QUBO")
    pf.add_argument("--file", required=True, help="portfolio JSON (expected_returns, covariances, ...)")
    pf.add_argument("--p", type=_pos_int, default=2, help="QAOA depth")
    pf.add_argument("--seed", type=int, default=0)
    pf.add_argument("--json", action="store_true")
    handlers["portfolio"] = cmd_portfolio
    return handlers
