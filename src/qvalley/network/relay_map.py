"""Network maps of a simulation: a PNG (matplotlib) and a self-contained HTML page (inline SVG).

Links are coloured by their key-pool fill (red empty → green full), dashed black when cut; nodes by
role. When some nodes sit too close together to read on the whole map (a city core), a second
panel zooms on them.
Both files are written to a temporary name and renamed, so a failed render leaves nothing behind.
"""

from __future__ import annotations

import base64
import html
import os
import tempfile
from pathlib import Path
from typing import Any

from .relay import SimulationReport
from .topology import NetworkError, Topology

ROLE_COLOURS = {"exchange": "#d62728", "bank": "#1f77b4", "government": "#9467bd", "datacentre": "#7f7f7f",
                "clearing": "#ff7f0e", "insurer": "#17becf", "relay": "#2ca02c", "backbone": "#8c564b"}


def _atomic(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise NetworkError(f"{path}: cannot write the map ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # an ordinary file, not mkstemp's 0600
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise NetworkError(f"{path}: cannot write the map ({exc.strerror or exc})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fill_colour(f: float) -> str:
    f = min(1.0, max(0.0, f))
    r, g = (1.0, 2 * f) if f < 0.5 else (2 * (1 - f), 1.0)
    return f"#{int(255 * r):02x}{int(200 * g):02x}30"


Box = tuple[float, float, float, float]  # lon0, lon1, lat0, lat1


def _crowded_box(topology: Topology) -> Box | None:
    """The box around nodes too close to tell apart on the whole map (``None`` if there are few)."""
    nodes = topology.nodes
    lons, lats = [n.lon for n in nodes], [n.lat for n in nodes]
    span = max(max(lons) - min(lons), max(lats) - min(lats), 1e-9)
    close = [n for n in nodes
             if any(m is not n and max(abs(m.lon - n.lon), abs(m.lat - n.lat)) < 0.03 * span for m in nodes)]
    if len(close) < 4:
        return None
    x0, x1 = min(n.lon for n in close), max(n.lon for n in close)
    y0, y1 = min(n.lat for n in close), max(n.lat for n in close)
    px, py = 0.15 * max(x1 - x0, 1e-3), 0.15 * max(y1 - y0, 1e-3)
    return (x0 - px, x1 + px, y0 - py, y1 + py)


def _inside(box: Box, lon: float, lat: float) -> bool:
    return box[0] <= lon <= box[1] and box[2] <= lat <= box[3]


def render_png(topology: Topology, report: SimulationReport, path: str | Path) -> Path:
    """Draw the network with pool levels to ``path`` (PNG); a zoomed panel shows a crowded core."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    pos = {n.name: (n.lon, n.lat) for n in topology.nodes}
    zoom = _crowded_box(topology)
    fig, axes = plt.subplots(1, 2 if zoom else 1, figsize=(17 if zoom else 10, 8), dpi=100, squeeze=False)
    cmap = matplotlib.colormaps["RdYlGn"]

    def draw(ax: Any, box: Box | None, label_all: bool) -> None:
        for lk in report.links:
            (x0, y0), (x1, y1) = pos[lk["a"]], pos[lk["b"]]
            if lk["up"]:
                ax.plot([x0, x1], [y0, y1], color=cmap(lk["pool_fill"]), lw=3, zorder=1)
            else:
                ax.plot([x0, x1], [y0, y1], color="k", lw=1.5, ls="--", zorder=1)
        for role, col in ROLE_COLOURS.items():
            pts = [pos[n.name] for n in topology.nodes if n.role == role]
            if pts:
                ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=45, c=col, label=role, zorder=2,
                           edgecolors="k", linewidths=0.5)
        for n in topology.nodes:
            crowded = zoom is not None and _inside(zoom, n.lon, n.lat)
            if (box is None or _inside(box, n.lon, n.lat)) and (label_all or not crowded):
                ax.annotate(n.name, pos[n.name], fontsize=7, xytext=(3, 3), textcoords="offset points")
        if box is not None:
            ax.set_xlim(box[0], box[1])
            ax.set_ylim(box[2], box[3])
        ax.set_xlabel("longitude (deg)")
        ax.set_ylabel("latitude (deg)")
        ax.set_aspect("equal", adjustable="datalim" if box is None else "box")

    few = len(topology.nodes) <= 40
    draw(axes[0][0], None, label_all=few and zoom is None)
    t = report.totals
    axes[0][0].set_title(f"{report.topology}: {t['nodes']} nodes, {t['links']} links, {report.hours:g} h, "
                         f"served {100 * t['served_fraction']:.1f}% of requested key")
    axes[0][0].legend(fontsize=7, loc="best")
    if zoom:
        axes[0][0].add_patch(matplotlib.patches.Rectangle((zoom[0], zoom[2]), zoom[1] - zoom[0],
                                                          zoom[3] - zoom[2], fill=False, ls=":", lw=1))
        draw(axes[0][1], zoom, label_all=True)
        axes[0][1].set_title("dense core (dotted box); dashed black: cut link")
    sm = cm.ScalarMappable(norm=colors.Normalize(0, 1), cmap=cmap)
    fig.colorbar(sm, ax=axes.ravel().tolist(), label="key pool fill (end of run)", shrink=0.8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    out = Path(path)
    _atomic(out, buf.getvalue())
    return out


def _svg(topology: Topology, report: SimulationReport, box: Box, label: bool) -> str:
    w, h, pad = 900.0, 640.0, 40.0
    x0, x1, y0, y1 = box
    s = min((w - 2 * pad) / max(x1 - x0, 1e-9), (h - 2 * pad) / max(y1 - y0, 1e-9))

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return pad + (lon - x0) * s, h - pad - (lat - y0) * s

    pos = {n.name: xy(n.lon, n.lat) for n in topology.nodes}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" '
             f'viewBox="0 0 {w:.0f} {h:.0f}" '
             'style="background:#fafafa;border:1px solid #ccc;overflow:hidden">']
    for lk in report.links:
        (ax_, ay), (bx, by) = pos[lk["a"]], pos[lk["b"]]
        tip = (f"{lk['a']}–{lk['b']}: {lk['length_km']} km, {lk['key_rate_bps'] / 1e3:.1f} kbit/s, "
               f"pool {100 * lk['pool_fill']:.0f}% (lowest {100 * lk['min_pool_fill']:.0f}%)"
               f"{'' if lk['up'] else ' CUT'}")
        style = (f'stroke="{_fill_colour(lk["pool_fill"])}" stroke-width="4"' if lk["up"]
                 else 'stroke="#000" stroke-width="2" stroke-dasharray="6,4"')
        parts.append(f'<line class="link" x1="{ax_:.1f}" y1="{ay:.1f}" x2="{bx:.1f}" y2="{by:.1f}" {style}>'
                     f"<title>{html.escape(tip)}</title></line>")
    for n in topology.nodes:
        x, y = pos[n.name]
        parts.append(f'<circle class="node" cx="{x:.1f}" cy="{y:.1f}" r="6" '
                     f'fill="{ROLE_COLOURS.get(n.role, "#000")}" stroke="#000">'
                     f'<title>{html.escape(f"{n.name} ({n.role})")}</title></circle>')
        if label and _inside(box, n.lon, n.lat):
            parts.append(f'<text x="{x + 7:.1f}" y="{y - 5:.1f}" font-size="10">{html.escape(n.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(topology: Topology, report: SimulationReport, path: str | Path,
                png: str | Path | None = None) -> Path:
    """A self-contained web page: SVG maps (whole network, and the dense core if there is one)
    coloured by key-pool level with hover details, and the link and pair tables."""
    nodes = topology.nodes
    full = (min(n.lon for n in nodes), max(n.lon for n in nodes),
            min(n.lat for n in nodes), max(n.lat for n in nodes))
    zoom = _crowded_box(topology)
    maps = _svg(topology, report, full, label=len(nodes) <= 40 and zoom is None)
    if zoom:
        maps += "<h2>Dense core</h2>" + _svg(topology, report, zoom, label=True)

    def table(rows: tuple[dict[str, Any], ...], cols: list[str]) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r[c]))}</td>" for c in cols) + "</tr>"
                       for r in rows)
        return f"<table><tr>{head}</tr>{body}</table>"

    img = ""
    if png is not None and Path(png).exists():
        img = ('<h2>Static map</h2><img alt="network map" style="max-width:100%" src="data:image/png;base64,'
               + base64.b64encode(Path(png).read_bytes()).decode() + '">')
    pair_rows = tuple({**p, "route": " → ".join(p["routes"][0]["path"]) if p["routes"] else ""}
                      for p in report.pairs)
    pair_cols = ["src", "dst", "requested_bits", "served_bits", "served_fraction", "mean_hops",
                 "distinct_routes", "exhausted_steps", "no_route_steps", "backlog_bits", "route"]
    t = report.totals
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(report.topology)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}</style></head><body>
<h1>QKD network {html.escape(report.topology)}</h1>
<p>{t['nodes']} nodes, {t['links']} links, {report.hours:g} h simulated in {report.step_s:g} s steps;
served {t['served_bits']} of {t['requested_bits']} requested key bits ({100 * t['served_fraction']:.2f}%).
Links coloured by key-pool fill at the end of the run (red empty, green full), dashed black when cut;
hover for details.</p>
{maps}
<h2>Links</h2>{table(report.links, ["a", "b", "length_km", "key_rate_bps", "generated_bits", "consumed_bits",
                                    "pool_bits", "pool_fill", "min_pool_fill", "up"])}
<h2>Pairs</h2>{table(pair_rows, pair_cols)}
{img}</body></html>"""
    out = Path(path)
    _atomic(out, page.encode("utf-8"))
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)
