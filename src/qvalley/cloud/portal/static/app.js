// The portal shell: hash router, login/logout, the error banner.

import { ApiError, api, isAbort, session } from "./api.js";
import * as devices from "./devices.js";
import * as jobs from "./jobs.js";
import * as tokens from "./tokens.js";
import { h } from "./ui.js";

const $ = (id) => document.getElementById(id);

const ROUTES = [
  [/^\/login$/, login, null],
  [/^\/devices$/, devices.list, "devices"],
  [/^\/devices\/([^/]+)$/, devices.detail, "devices"],
  [/^\/jobs$/, jobs.list, "jobs"],
  [/^\/jobs\/([^/]+)$/, jobs.detail, "jobs"],
  [/^\/tokens$/, tokens.page, "tokens"],
];

const TITLES = {
  0: "Service unreachable.",
  400: "Bad request.",
  401: "Not signed in.",
  403: "Not allowed.",
  404: "Not found.",
  409: "Conflict.",
  413: "Over a limit.",
  422: "Rejected.",
  429: "Too many requests.",
};

let controller = null; // aborts the previous page's requests (long polls included)
let carried = null; // an error to show on the page a redirect leads to

/** Go to a page (re-rendering it when it is the current one). */
export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

/** Show an error in the banner: a title by status and the API's message. */
export function showError(err) {
  const status = err instanceof ApiError ? err.status : -1;
  let title = TITLES[status] ?? (status >= 500 ? "Server error." : "Error.");
  if (status > 0) title = `${title.slice(0, -1)} (${status}${err.code ? ` ${err.code}` : ""}).`;
  let message = err.message || String(err);
  if (status === 401) message += " Sign in with a valid API token.";
  if (status === 429 && err.retryAfter) message += ` Retry after ${err.retryAfter} s.`;
  $("error-title").textContent = title;
  $("error-message").textContent = message;
  const box = $("error");
  box.dataset.status = String(status);
  box.hidden = false;
}

export function hideError() {
  $("error").hidden = true;
  delete $("error").dataset.status;
}

/** What every page does with an error: 401 ends the session, everything else is shown. */
export function handleError(err) {
  if (isAbort(err)) return;
  if (err instanceof ApiError && err.status === 401 && session.token) {
    session.clear();
    setUser(null);
    carried = err;
    go("#/login");
    return;
  }
  showError(err);
}

function setUser(me) {
  $("whoami").textContent = me ? `${me.name} (${me.role})` : "";
  $("logout").hidden = !me;
  $("nav").hidden = !me;
}

function login({ view }) {
  const input = h("input", {
    name: "token", type: "password", autocomplete: "off", required: true, placeholder: "qv_…",
    "aria-label": "API token", size: 52,
  });
  const form = h("form", { id: "login-form", class: "card narrow" },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Paste an API token (",
      h("code", {}, "qvalley token create --user NAME"),
      "). It is kept in this tab's session storage only."),
    h("label", {}, "API token ", input),
    h("button", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    hideError();
    try {
      const me = await api("v1/users/me", { token });
      session.set(token);
      setUser(me);
      location.hash = "#/devices";
    } catch (err) {
      showError(err);
    }
  });
  view.replaceChildren(form);
  input.focus();
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/devices";
  const i = raw.indexOf("?");
  return i < 0 ? { path: raw, query: new URLSearchParams() }
    : { path: raw.slice(0, i), query: new URLSearchParams(raw.slice(i + 1)) };
}

async function route() {
  if (controller) controller.abort();
  controller = new AbortController();
  const { signal } = controller;
  hideError();
  if (carried) {
    showError(carried);
    carried = null;
  }
  const { path, query } = parseHash();
  if (!session.token && path !== "/login") {
    go("#/login");
    return;
  }
  const view = $("view");
  for (const [re, fn, section] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll("#nav a")) {
      a.classList.toggle("active", a.dataset.section === section);
    }
    view.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    try {
      await fn({ view, params: m.slice(1).map(decodeURIComponent), query, signal, handleError });
    } catch (err) {
      if (signal.aborted || isAbort(err)) return;
      view.replaceChildren(h("p", { class: "muted" }, "This page could not be loaded."));
      handleError(err);
    }
    return;
  }
  view.replaceChildren(h("p", { class: "muted" }, "No such page."));
  showError(new ApiError(404, "not_found", `the portal has no page ${path}`));
}

async function start() {
  $("error-close").addEventListener("click", hideError);
  $("logout").addEventListener("click", () => {
    session.clear();
    setUser(null);
    go("#/login");
  });
  window.addEventListener("hashchange", route);
  if (session.token) {
    try {
      setUser(await api("v1/users/me"));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        handleError(err); // ends the session and goes to the login page
        return;
      }
      carried = err; // shown by the first page
    }
  }
  await route();
}

start();
