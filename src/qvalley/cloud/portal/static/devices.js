// Devices: the list, and a device page with its qubit layout as a graph coloured by the current
// calibration (heat map) and the daily calibration history.

import { api } from "./api.js";
import { facts, fmtHz, fmtPercent, fmtSeconds, fmtTime, h, heat, s, table } from "./ui.js";

const enc = encodeURIComponent;

// qubit metrics: how to read one from a calibration entry, how to print it, whether higher is better
const QUBIT_METRICS = {
  error_1q: {
    label: "1-qubit gate error", get: (q) => q.error_1q, fmt: fmtPercent, higherIsBetter: false, log: true,
  },
  readout: {
    label: "readout error (mean of P(0|1), P(1|0))",
    get: (q) => (q.readout_p0_given_1 + q.readout_p1_given_0) / 2, fmt: fmtPercent, higherIsBetter: false,
    log: true,
  },
  t1: { label: "T1", get: (q) => q.t1, fmt: fmtSeconds, higherIsBetter: true },
  t2: { label: "T2", get: (q) => q.t2, fmt: fmtSeconds, higherIsBetter: true },
};
const COUPLER_METRIC = { label: "2-qubit gate error", fmt: fmtPercent, higherIsBetter: false, log: true };

export async function list({ view, signal }) {
  const { devices } = await api("v1/devices", { signal });
  const rows = devices.map((d) => {
    const a = d.averages || {};
    return h("tr", { "data-device": d.name },
      h("td", {}, h("a", { href: `#/devices/${enc(d.name)}` }, d.name)),
      h("td", { class: "num" }, d.num_qubits),
      h("td", {}, d.native_gates.join(", ")),
      h("td", {}, d.calibration_id ?? "—"),
      h("td", { class: "num" }, fmtSeconds(a.t1)),
      h("td", { class: "num" }, fmtPercent(a.error_1q)),
      h("td", { class: "num" }, fmtPercent(a.error_2q)),
      h("td", { class: "num" }, fmtPercent(a.readout_error)),
      h("td", { class: "muted" }, d.description || ""));
  });
  view.replaceChildren(
    h("h1", {}, "Devices"),
    table({ id: "devices-table", class: "grid" },
      ["device", "qubits", "native gates", "calibration", "mean T1", "1q error", "2q error", "readout error",
        ""], rows));
}

export async function detail({ view, params, signal, handleError }) {
  const [name] = params;
  const d = await api(`v1/devices/${enc(name)}`, { signal });
  const cal = d.calibration;
  const metricSel = h("select", { id: "qubit-metric", "aria-label": "qubit colour" },
    Object.entries(QUBIT_METRICS).map(([k, m]) => h("option", { value: k }, m.label)));
  const figure = h("div", { id: "layout-figure" });
  const legend = h("div", { id: "legend", class: "legend" });
  const draw = () => {
    const drawn = drawLayout(d, metricSel.value);
    figure.replaceChildren(drawn.svg);
    legend.replaceChildren(...drawn.legend);
  };
  metricSel.addEventListener("change", draw);

  const layoutSection = h("section", { class: "card" }, h("h2", {}, "Layout and calibration"));
  if (d.coordinates && d.coordinates.length === d.num_qubits) {
    if (cal) layoutSection.append(h("label", {}, "Qubit colour: ", metricSel));
    else layoutSection.append(h("p", { class: "muted" }, "This device has no calibration: no heat map."));
    layoutSection.append(figure, legend);
    draw();
  } else {
    layoutSection.append(h("p", { class: "muted" },
      `No fixed layout: ${d.num_qubits} qubits with all-to-all connectivity`
      + (cal ? "." : " and no calibration (noise-free).")));
  }

  const history = h("section", { class: "card", id: "history" }, h("h2", {}, "Calibration history"));
  view.replaceChildren(
    h("p", {}, h("a", { href: "#/devices" }, "← devices")),
    h("h1", {}, d.name),
    d.description ? h("p", { class: "muted" }, d.description) : null,
    facts([
      ["qubits", String(d.num_qubits)],
      ["couplers", String((d.couplers || []).length)],
      ["native gates", d.native_gates.join(", ")],
      ["calibration", cal ? `${cal.id} (${fmtTime(cal.timestamp)})` : "none"],
      ["jobs", h("a", { href: `#/jobs?device=${enc(d.name)}` }, "my jobs on this device")],
    ]),
    layoutSection, history);
  if (cal) {
    loadHistory(history, d.name, "", signal, handleError).catch(handleError);
  } else {
    history.append(h("p", { class: "muted" }, "No calibrations."));
  }
}

function range(values) {
  const ok = values.filter(Number.isFinite);
  return ok.length ? [Math.min(...ok), Math.max(...ok)] : [0, 0];
}

/** Where v lies between the best (0) and the worst (1) value; error rates on a log scale, since
 * they spread over decades and a few bad qubits would otherwise make all the others look alike. */
function badness(v, [lo, hi], higherIsBetter, log = false) {
  if (!Number.isFinite(v)) return NaN;
  if (hi <= lo) return 0.5;
  const useLog = log && lo > 0;
  const t = useLog ? Math.log(v / lo) / Math.log(hi / lo) : (v - lo) / (hi - lo);
  return higherIsBetter ? 1 - t : t;
}

function legendRow(id, label, [lo, hi], fmt, higherIsBetter, log) {
  const [good, bad] = higherIsBetter ? [hi, lo] : [lo, hi];
  return h("div", { class: "legend-row", id },
    h("span", { class: "legend-label" }, label + (log && lo > 0 ? " (log scale)" : "")),
    h("span", { class: "legend-value" }, `${fmt(good)} (best)`),
    h("span", { class: "legend-bar", "aria-hidden": "true" }),
    h("span", { class: "legend-value" }, `${fmt(bad)} (worst)`));
}

/** The layout graph of device `d`: one circle per qubit, one line per coupler. */
function drawLayout(d, metricKey) {
  const cal = d.calibration;
  const n = d.num_qubits;
  const step = 40;
  const pad = 24;
  const rows = d.coordinates.map((c) => c[0]);
  const cols = d.coordinates.map((c) => c[1]);
  const [r0, r1] = range(rows);
  const [c0, c1] = range(cols);
  const x = (q) => pad + (d.coordinates[q][1] - c0) * step;
  const y = (q) => pad + (d.coordinates[q][0] - r0) * step;
  const width = 2 * pad + (c1 - c0) * step;
  const height = 2 * pad + (r1 - r0) * step;
  const radius = n > 200 ? 10 : 13;

  const metric = QUBIT_METRICS[metricKey];
  const qvals = cal ? cal.qubits.map(metric.get) : [];
  const qrange = range(qvals);
  const couplerCal = new Map();
  for (const c of cal ? cal.couplers : []) couplerCal.set(`${Math.min(...c.qubits)}-${Math.max(...c.qubits)}`, c);
  const cvals = [...couplerCal.values()].map((c) => c.error_2q);
  const crange = range(cvals);

  const svg = s("svg", {
    class: "layout", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `layout of ${d.name}: ${n} qubits, ${(d.couplers || []).length} couplers`,
    "data-qubit-metric": metricKey,
  });
  const edges = s("g", { class: "couplers" });
  for (const [a, b] of d.couplers || []) {
    const key = `${Math.min(a, b)}-${Math.max(a, b)}`;
    const c = couplerCal.get(key);
    const colour = c ? heat(badness(c.error_2q, crange, false, true)) : "#9aa3ad";
    const title = c ? `coupler q${a}–q${b}\n2q error ${fmtPercent(c.error_2q)}`
      + (c.duration_2q ? `\nduration ${fmtSeconds(c.duration_2q)}` : "") : `coupler q${a}–q${b}`;
    edges.append(s("line", {
      class: "coupler", "data-qubits": key, x1: x(a), y1: y(a), x2: x(b), y2: y(b), stroke: colour,
      "data-value": c ? c.error_2q : null,
    }, s("title", {}, title)));
  }
  const nodes = s("g", { class: "qubits" });
  for (let q = 0; q < n; q++) {
    const info = cal ? cal.qubits[q] : null;
    const colour = info ? heat(badness(qvals[q], qrange, metric.higherIsBetter, metric.log)) : "#cfd6dd";
    const lines = [`qubit ${q} (row ${d.coordinates[q][0]}, column ${d.coordinates[q][1]})`];
    if (info) {
      lines.push(`T1 ${fmtSeconds(info.t1)}`, `T2 ${fmtSeconds(info.t2)}`,
        `1q error ${fmtPercent(info.error_1q)}`, `readout P(0|1) ${fmtPercent(info.readout_p0_given_1)}`,
        `readout P(1|0) ${fmtPercent(info.readout_p1_given_0)}`, `frequency ${fmtHz(info.frequency)}`);
    }
    const g = s("g", { class: "qubit-node" },
      s("circle", {
        class: "qubit", "data-qubit": q, cx: x(q), cy: y(q), r: radius, fill: colour,
        "data-value": info ? qvals[q] : null,
      }, s("title", {}, lines.join("\n"))));
    if (n <= 200) {
      g.append(s("text", { x: x(q), y: y(q), class: "qubit-label", "aria-hidden": "true" }, String(q)));
    }
    nodes.append(g);
  }
  svg.append(edges, nodes);
  const legend = cal ? [
    legendRow("legend-qubits", `qubits: ${metric.label}`, qrange, metric.fmt, metric.higherIsBetter,
      metric.log),
    legendRow("legend-couplers", `couplers: ${COUPLER_METRIC.label}`, crange, COUPLER_METRIC.fmt, false,
      COUPLER_METRIC.log),
  ] : [];
  return { svg, legend };
}

/** One page of the daily calibration history (newest first), with "older" to go further back. */
async function loadHistory(section, name, before, signal, onError) {
  const { calibrations } = await api(`v1/devices/${enc(name)}/calibrations`, {
    params: { before, limit: 7 }, signal,
  });
  let tbody = section.querySelector("tbody");
  if (!tbody) {
    const tbl = table({ id: "history-table", class: "grid" },
      ["calibration", "time", "mean T1", "mean T2", "1q error", "readout error", "2q error"], []);
    tbody = tbl.querySelector("tbody");
    section.append(tbl);
  }
  for (const c of calibrations) {
    const a = c.averages || {};
    tbody.append(h("tr", { "data-calibration": c.id },
      h("td", {}, c.id), h("td", {}, fmtTime(c.timestamp)),
      h("td", { class: "num" }, fmtSeconds(a.t1)), h("td", { class: "num" }, fmtSeconds(a.t2)),
      h("td", { class: "num" }, fmtPercent(a.error_1q)), h("td", { class: "num" }, fmtPercent(a.readout_error)),
      h("td", { class: "num" }, fmtPercent(a.error_2q))));
  }
  section.querySelector("#history-older")?.remove();
  if (calibrations.length) {
    const oldest = calibrations[calibrations.length - 1];
    const next = new Date(Date.parse(oldest.timestamp) - 1000).toISOString();
    const btn = h("button", { id: "history-older", type: "button" }, "Older calibrations");
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try {
        await loadHistory(section, name, next, signal, onError);
      } catch (err) {
        btn.disabled = false;
        onError(err);
      }
    });
    section.append(btn);
  } else if (!tbody.children.length) {
    section.append(h("p", { class: "muted" }, "No calibrations."));
  }
}
