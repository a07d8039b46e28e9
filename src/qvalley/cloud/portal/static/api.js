// The REST API seen from the portal: the session token and one fetch wrapper.

const KEY = "qvalley.token";
// the API lives one level above /portal/, so the portal also works behind a path prefix
const BASE = new URL("../", import.meta.url);

export const session = {
  get token() { return sessionStorage.getItem(KEY); },
  set(token) { sessionStorage.setItem(KEY, token); },
  clear() { sessionStorage.removeItem(KEY); },
};

/** An error answer of the API (status 0: the service could not be reached). */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export function isAbort(err) {
  return err && err.name === "AbortError";
}

/**
 * Call the API. `path` starts with "v1/…"; `params` become the query string (empty values are
 * dropped); `body` is sent as JSON. Resolves to the decoded JSON (null for 204), rejects with
 * ApiError.
 */
export async function api(path, { method = "GET", params, body, token = session.token, signal } = {}) {
  const url = new URL(path.replace(/^\//, ""), BASE);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  }
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new ApiError(0, "unreachable", `cannot reach the service (${err.message})`);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const e = data && data.error ? data.error
      : { code: `http_${response.status}`, message: (text || response.statusText).slice(0, 200) };
    const ra = response.headers.get("Retry-After");
    throw new ApiError(response.status, e.code, e.message, ra === null ? null : Number(ra));
  }
  return data;
}
