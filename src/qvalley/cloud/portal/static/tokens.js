// Account and API tokens: list, create (the secret is shown once), revoke.

import { ApiError, api, session } from "./api.js";
import { facts, fmtTime, h, table } from "./ui.js";

export async function page({ view, signal, handleError }) {
  const [me, usage, { tokens }] = await Promise.all([
    api("v1/users/me", { signal }), api("v1/usage", { signal }), api("v1/tokens", { signal }),
  ]);
  const created = h("div", { id: "new-token", class: "card highlight", hidden: true });
  const tokenTable = table({ id: "tokens-table", class: "grid" },
    ["id", "name", "prefix", "created", "revoked", ""], []);
  const tbody = tokenTable.querySelector("tbody");
  const refresh = async () => {
    const fresh = await api("v1/tokens", { signal });
    tbody.replaceChildren(...fresh.tokens.map(row));
  };
  const row = (t) => {
    const current = Boolean(session.token && session.token.startsWith(t.prefix));
    const action = t.revoked_at ? h("span", { class: "muted" }, "revoked")
      : h("button", { type: "button", class: "revoke", "data-token-id": t.id }, "Revoke");
    if (!t.revoked_at) {
      action.addEventListener("click", async () => {
        action.disabled = true;
        try {
          await api(`v1/tokens/${t.id}`, { method: "DELETE", signal });
          if (current) {
            // this session's own token no longer works: the session ends
            handleError(new ApiError(401, "token_revoked", "You revoked the token of this session."));
            return;
          }
          await refresh();
        } catch (err) {
          action.disabled = false;
          handleError(err);
        }
      });
    }
    return h("tr", { "data-token-id": t.id, class: t.revoked_at ? "revoked" : "" },
      h("td", { class: "num" }, t.id),
      h("td", {}, t.name, current ? h("span", { class: "tag" }, "this session") : null),
      h("td", {}, h("code", {}, `${t.prefix}…`)),
      h("td", {}, fmtTime(t.created_at)),
      h("td", {}, t.revoked_at ? fmtTime(t.revoked_at) : "active"),
      h("td", {}, action));
  };
  tbody.replaceChildren(...tokens.map(row));

  const nameInput = h("input", { name: "name", value: "portal", maxlength: 128, required: true, size: 24 });
  const form = h("form", { id: "token-form", class: "inline" },
    h("label", {}, "name ", nameInput), h("button", { type: "submit" }, "Create token"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const btn = form.querySelector("button");
    btn.disabled = true;
    try {
      const t = await api("v1/tokens", { method: "POST", body: { name: nameInput.value.trim() || "token" }, signal });
      const copy = h("button", { type: "button", id: "new-token-copy" }, "Copy");
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(t.token);
          copy.textContent = "Copied";
        } catch {
          copy.textContent = "Select the token and copy it";
        }
      });
      created.replaceChildren(
        h("p", {}, h("strong", {}, `Token “${t.name}” created. `),
          "Copy it now: it is shown only once (the service keeps only its hash)."),
        h("p", {}, h("code", { id: "new-token-value", class: "secret" }, t.token), " ", copy));
      created.hidden = false;
      await refresh();
    } catch (err) {
      handleError(err);
    } finally {
      btn.disabled = false;
    }
  });

  const q = me.quotas || {};
  const today = usage.today || {};
  view.replaceChildren(
    h("h1", {}, "Account and tokens"),
    h("section", { class: "card", id: "account" }, h("h2", {}, "Account"),
      facts([
        ["user", me.name], ["role", me.role], ["since", fmtTime(me.created_at)],
        ["concurrent jobs", String(q.max_concurrent_jobs ?? "—")],
        ["shots per day", String(q.max_shots_per_day ?? "—")],
        ["shots today", `${today.shots ?? 0} (${today.shots_left ?? "—"} left), ${today.jobs ?? 0} jobs`],
      ])),
    h("section", { class: "card" }, h("h2", {}, "API tokens"), form, created,
      tokenTable));
}
