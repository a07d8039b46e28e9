// Jobs: the user's jobs with filters and cursor pagination; a job page with the status timeline,
// the failure, and a counts histogram per circuit.

import { api, isAbort } from "./api.js";
import {
  STATUSES, TERMINAL, badge, facts, fmtDuration, fmtTime, h, isoToLocalInput, localInputToIso, s, table,
} from "./ui.js";

const enc = encodeURIComponent;
const FILTERS = ["status", "device", "tag", "created_after", "created_before"];
const PAGE = 25;
// the order of timeline entries recorded at the same instant
const STATE_ORDER = ["created", "queued", "validating", "transpiling", "executing", "postprocessing",
  "cancelling", "completed", "failed", "cancelled"];
const MAX_BARS = 64;

function jobRow(j) {
  return h("tr", { "data-job": j.id, "data-status": j.status },
    h("td", {}, h("a", { href: `#/jobs/${enc(j.id)}`, title: j.id }, h("code", {}, j.id.slice(0, 8)))),
    h("td", {}, j.device),
    h("td", {}, badge(j.status)),
    h("td", {}, TERMINAL.has(j.status) ? "" : j.phase || ""),
    h("td", { class: "num" }, j.shots),
    h("td", { class: "num" }, j.num_circuits),
    h("td", {}, j.tags.map((t) => h("span", { class: "tag" }, t))),
    h("td", {}, fmtTime(j.created_at)),
    h("td", {}, fmtTime(j.finished_at)));
}

export async function list({ view, query, signal, handleError }) {
  const filters = Object.fromEntries(FILTERS.map((k) => [k, query.get(k) || ""]));
  const limit = Math.min(200, Math.max(1, Number(query.get("limit")) || PAGE)); // ?limit= for long lists
  const devicesPromise = api("v1/devices", { signal }).catch((err) => {
    if (!isAbort(err)) handleError(err);
    return { devices: [] };
  });
  const page = await api("v1/jobs", { params: { ...filters, limit }, signal });
  const { devices } = await devicesPromise;

  const deviceNames = devices.map((d) => d.name);
  if (filters.device && !deviceNames.includes(filters.device)) deviceNames.push(filters.device);
  const select = (name, values, current) => h("select", { name, "aria-label": name },
    h("option", { value: "" }, "any"),
    values.map((v) => h("option", { value: v, selected: v === current }, v)));
  const form = h("form", { id: "job-filters", class: "filters" },
    h("label", {}, "status ", select("status", STATUSES, filters.status)),
    h("label", {}, "device ", select("device", deviceNames, filters.device)),
    h("label", {}, "tag ", h("input", { name: "tag", value: filters.tag, size: 12 })),
    h("label", {}, "created after ", h("input", {
      name: "created_after", type: "datetime-local", value: isoToLocalInput(filters.created_after),
    })),
    h("label", {}, "created before ", h("input", {
      name: "created_before", type: "datetime-local", value: isoToLocalInput(filters.created_before),
    })),
    h("button", { type: "submit" }, "Apply"),
    h("button", { type: "button", id: "filters-clear" }, "Clear"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const q = new URLSearchParams();
    for (const k of FILTERS) {
      let v = String(data.get(k) || "").trim();
      if (k.startsWith("created_")) v = localInputToIso(v);
      if (v) q.set(k, v);
    }
    if (query.get("limit")) q.set("limit", String(limit));
    const hash = q.toString() ? `#/jobs?${q}` : "#/jobs";
    if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = hash;
  });
  form.querySelector("#filters-clear").addEventListener("click", () => { location.hash = "#/jobs"; });

  const tbl = table({ id: "jobs-table", class: "grid" },
    ["job", "device", "status", "phase", "shots", "circuits", "tags", "created", "finished"],
    page.jobs.map(jobRow));
  const tbody = tbl.querySelector("tbody");
  const empty = h("p", { class: "muted", id: "jobs-empty", hidden: page.jobs.length > 0 },
    "No jobs match these filters.");
  const more = h("button", { type: "button", id: "jobs-more", hidden: !page.next_cursor }, "More");
  let cursor = page.next_cursor;
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const next = await api("v1/jobs", { params: { ...filters, limit, cursor }, signal });
      tbody.append(...next.jobs.map(jobRow));
      cursor = next.next_cursor;
      more.hidden = !cursor;
    } catch (err) {
      handleError(err);
    } finally {
      more.disabled = false;
    }
  });
  view.replaceChildren(h("h1", {}, "Jobs"), form, tbl, empty, more,
    h("p", { class: "muted" }, "Submit jobs with ", h("code", {}, "qvalley submit"), ", the Python ",
      h("code", {}, "Client"), " or the Qiskit provider."));
}

export async function detail({ view, params, signal, handleError }) {
  const [id] = params;
  let job = await api(`v1/jobs/${enc(id)}`, { signal });
  const summary = h("section", { class: "card", id: "job-summary" });
  const timeline = h("section", { class: "card", id: "job-timeline" });
  const results = h("section", { id: "job-results" });
  view.replaceChildren(h("p", {}, h("a", { href: "#/jobs" }, "← jobs")),
    h("h1", {}, "Job ", h("code", {}, job.id)), summary, timeline, results);
  const render = () => {
    summary.replaceChildren(...renderSummary(job, async (btn) => {
      btn.disabled = true;
      try {
        job = await api(`v1/jobs/${enc(id)}/cancel`, { method: "POST", signal });
        render();
      } catch (err) {
        btn.disabled = false;
        handleError(err);
      }
    }));
    timeline.replaceChildren(...renderTimeline(job));
  };
  render();
  // long-poll until the job is finished (aborted when the user leaves the page)
  while (!TERMINAL.has(job.status)) {
    job = await api(`v1/jobs/${enc(id)}`, { params: { wait: 20 }, signal });
    render();
  }
  if (job.status === "COMPLETED") {
    const r = await api(`v1/jobs/${enc(id)}/result`, { signal });
    results.replaceChildren(...r.results.map((c, i) => renderCircuit(c, i)));
  }
}

function renderSummary(job, onCancel) {
  const out = [facts([
    ["status", h("span", { id: "job-status" }, badge(job.status),
      job.phase && !TERMINAL.has(job.status) ? ` ${job.phase}` : "")],
    ["device", h("a", { href: `#/devices/${enc(job.device)}` }, job.device)],
    ["shots", String(job.shots)],
    ["circuits", String(job.num_circuits)],
    ["tags", job.tags.length ? job.tags.map((t) => h("span", { class: "tag" }, t)) : "—"],
    ["calibration", job.calibration_id ?? "—"],
    ["attempt", String(job.attempt)],
    job.status === "QUEUED" ? ["queue position", String(job.queue_position ?? "—")] : ["", undefined],
    job.status === "QUEUED" ? ["estimated start", fmtTime(job.estimated_start)] : ["", undefined],
  ])];
  if (job.failure) {
    out.push(h("div", { id: "job-failure", class: "failure", role: "status" },
      h("strong", {}, "Failed: "), h("code", { class: "failure-code" }, job.failure.code), " ",
      h("span", { class: "failure-message" }, job.failure.message)));
  }
  if (!TERMINAL.has(job.status) && job.status !== "CANCELLING") {
    const btn = h("button", { type: "button", id: "job-cancel" }, "Cancel job");
    btn.addEventListener("click", () => onCancel(btn));
    out.push(btn);
  }
  return out;
}

function renderTimeline(job) {
  const entries = Object.entries(job.timestamps || {})
    .filter(([, t]) => t)
    .map(([state, t]) => ({ state, t: Date.parse(t), iso: t }))
    .sort((a, b) => a.t - b.t || STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state));
  if (!entries.length) return [h("h2", {}, "Timeline"), h("p", { class: "muted" }, "No timestamps.")];
  const t0 = entries[0].t;
  const last = entries[entries.length - 1].t;
  const span = Math.max(last - t0, 1);
  const bar = h("div", { class: "timeline-bar", "aria-hidden": "true" });
  entries.slice(0, -1).forEach((e, i) => {
    const dt = entries[i + 1].t - e.t;
    const seg = h("span", { class: `seg seg-${e.state}`, title: `${e.state}: ${fmtDuration(dt / 1000)}` });
    seg.style.flexGrow = String(Math.max(dt / span, 0.002));
    bar.append(seg);
  });
  const items = entries.map((e, i) => {
    const next = entries[i + 1];
    return h("li", { "data-state": e.state, class: `state-${e.state}` },
      h("span", { class: "state" }, e.state),
      h("time", { datetime: e.iso }, fmtTime(e.iso)),
      h("span", { class: "muted" }, i ? `+${fmtDuration((e.t - t0) / 1000)}` : ""),
      h("span", { class: "muted" },
        next && next.t > e.t ? `(${fmtDuration((next.t - e.t) / 1000)} in ${e.state})` : ""));
  });
  return [h("h2", {}, "Timeline"), bar, h("ol", { id: "timeline", class: "timeline" }, items)];
}

function renderCircuit(c, index) {
  const timings = c.timings || {};
  const parts = [
    h("h2", {}, `Circuit ${index}`),
    facts([
      ["qubits", String(c.num_qubits)],
      ["shots", String(c.shots)],
      ["method", c.method ?? "—"],
      ["noise", c.noise ? "on" : "off"],
      ["transpile", fmtDuration(timings.transpile_s)],
      ["execute", fmtDuration(timings.execute_s)],
    ]),
    histogram(c.counts, c.shots, index),
  ];
  if (c.transpiled_program) {
    parts.push(h("details", {}, h("summary", {}, "Transpiled program (OpenQASM 3)"),
      h("pre", { class: "program" }, c.transpiled_program)));
  }
  return h("section", { class: "card circuit", "data-circuit": index }, parts);
}

/** An SVG bar chart of `counts` (outcomes in bit-string order; the most frequent MAX_BARS). */
export function histogram(counts, shots, index) {
  let entries = Object.entries(counts);
  const total = entries.length;
  if (total > MAX_BARS) entries = entries.sort((a, b) => b[1] - a[1]).slice(0, MAX_BARS);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const max = Math.max(1, ...entries.map((e) => e[1]));
  const bits = Math.max(1, ...entries.map((e) => e[0].length));
  const rotate = entries.length > 12 || bits > 4;
  const barW = Math.max(10, Math.min(48, Math.floor(640 / Math.max(entries.length, 1))));
  const left = 48;
  const top = 12;
  const plotH = 180;
  const labelH = rotate ? 10 + bits * 7 : 18;
  const width = left + entries.length * barW + 12;
  const height = top + plotH + labelH + 8;
  const svg = s("svg", {
    class: "histogram", "data-circuit": index, viewBox: `0 0 ${width} ${height}`, width,
    role: "img", "aria-label": `counts of circuit ${index}: ${total} outcomes, ${shots} shots`,
  });
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH * (1 - f);
    svg.append(s("line", { class: "gridline", x1: left, x2: width - 6, y1: y, y2: y }),
      s("text", { class: "axis", x: left - 6, y: y + 4, "text-anchor": "end" }, String(Math.round(max * f))));
  }
  entries.forEach(([outcome, n], i) => {
    const hgt = (plotH * n) / max;
    const x = left + i * barW;
    svg.append(s("rect", {
      class: "bar", x: x + 1, y: top + plotH - hgt, width: barW - 2, height: hgt,
      "data-outcome": outcome, "data-count": n,
    }, s("title", {}, `${outcome}: ${n} (${((100 * n) / shots).toFixed(2)} %)`)));
    const lx = x + barW / 2;
    const ly = top + plotH + 12;
    svg.append(s("text", {
      class: "axis outcome", x: lx, y: ly, "text-anchor": rotate ? "end" : "middle",
      transform: rotate ? `rotate(-60 ${lx} ${ly})` : null,
    }, outcome));
  });
  const note = total > MAX_BARS
    ? h("p", { class: "muted" }, `The ${MAX_BARS} most frequent of ${total} outcomes.`)
    : h("p", { class: "muted" }, `${total} outcome${total === 1 ? "" : "s"}; qubit 0 is the rightmost bit.`);
  return h("figure", { class: "histogram-figure" }, svg, note);
}
