// DOM and formatting helpers. Text goes in through text nodes only (never innerHTML), so job
// tags, token names and error messages cannot inject markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** An HTML element: h("a", {href: "#/x", class: "y"}, "text", child, …). */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, same signature as h. */
export function s(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED"]);
export const STATUSES = ["QUEUED", "RUNNING", "CANCELLING", "COMPLETED", "FAILED", "CANCELLED"];

export function badge(status) {
  return h("span", { class: `badge status-${String(status).toLowerCase()}` }, status);
}

/** "2024-01-10 12:00:00.123 UTC" from an ISO time (the API's times are UTC). */
export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace("T", " ").replace(".000Z", "Z").replace("Z", " UTC");
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const a = Math.abs(seconds);
  if (a < 1e-3) return `${(seconds * 1e6).toFixed(0)} µs`;
  if (a < 1) return `${(seconds * 1e3).toFixed(1)} ms`;
  if (a < 120) return `${seconds.toFixed(2)} s`;
  if (a < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** A value in seconds as µs/ns. */
export function fmtSeconds(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  if (Math.abs(v) >= 1e-6) return `${(v * 1e6).toFixed(1)} µs`;
  return `${(v * 1e9).toFixed(1)} ns`;
}

export function fmtPercent(v, digits = 3) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  return `${(v * 100).toPrecision(digits)} %`;
}

export function fmtHz(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  return `${(v / 1e9).toFixed(3)} GHz`;
}

/** Colour of a normalised badness t in [0, 1]: green (good) → yellow → red (bad). */
export function heat(t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0.5));
  return `hsl(${Math.round(120 * (1 - x))}, 72%, 44%)`;
}

/** A definition list from [label, value] pairs (value: text or node). */
export function facts(pairs) {
  return h("dl", { class: "facts" },
    pairs.filter(([, v]) => v !== undefined).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
}

export function table(attrs, headers, rows) {
  return h("table", attrs,
    h("thead", {}, h("tr", {}, headers.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows));
}

/** An ISO time from a datetime-local input value (local time), or "" when empty. */
export function localInputToIso(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

/** The datetime-local input value (local time, minutes) of an ISO time. */
export function isoToLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
