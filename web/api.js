// The REST client every page uses, and small formatting helpers. Only the
// public API (/api/v1) is called; the session cookie authenticates.

// Every request carries this header: the controller refuses
// cookie-authenticated state-changing requests without it (a cross-site
// form cannot set it).
const REQUEST_HEADER = { "X-Weft-Request": "1" };

// Called with the error when the API answers 401 (the session ended): the
// shell shows the login form again.
let onUnauthenticated = () => {};
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

// Calls the REST API; resolves to the parsed JSON (null for 204) or throws
// an Error whose message is the API's own error message (e.status: the
// HTTP status, e.error: the API's error object). A string body is sent as
// it is (the policy document, whose text the controller locates errors
// in). opts.signal aborts; opts.quiet401 skips the logout handler (the
// session check).
export async function api(method, path, body, opts = {}) {
  const init = { method, headers: { ...REQUEST_HEADER }, credentials: "same-origin" };
  if (opts.signal) init.signal = opts.signal;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new Error(`cannot reach the controller: ${e.message}`);
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const msg = json && json.error && json.error.message;
    const err = new Error(msg || `${res.status} ${res.statusText}`);
    err.status = res.status;
    err.error = json && json.error;
    if (res.status === 401 && !opts.quiet401) onUnauthenticated(err);
    throw err;
  }
  return json;
}

// Every item of a paginated list (GET path?limit=1000&cursor=...).
export async function listAll(path, opts) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api("GET", `${path}${sep}limit=1000${cursor ? `&cursor=${cursor}` : ""}`, undefined, opts);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

// "3 min ago", "in 2 days", "now" (within a second: the API's times are
// whole seconds), or "never" for null.
export function relTime(iso, now = Date.now()) {
  if (!iso) return "never";
  const s = Math.round((Date.parse(iso) - now) / 1000);
  const a = Math.abs(s);
  if (a <= 1) return "now";
  const [n, unit] = a < 60 ? [a, "s"] : a < 3600 ? [Math.round(a / 60), "min"]
    : a < 86400 ? [Math.round(a / 3600), "h"] : [Math.round(a / 86400), "d"];
  return s < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
}
