// The Audit page: GET /api/v1/audit, newest first unless asked otherwise,
// with the filters the API knows (actor, action, since, until), paginated
// with the API's cursor, and an export of every matching entry (in the
// order shown) as the JSON the API returns.
// Props: api (app.js's API helper).
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { api as apiDefault } from "@weft/api.js";

const PAGE = 50;
const EXPORT_MAX_PAGES = 200;

// "2026-12-06T03:00" (datetime-local, the browser's zone) -> RFC 3339 UTC.
const rfc3339 = (local) => local ? new Date(local).toISOString().replace(/\.\d{3}Z$/, "Z") : "";

function query(filters, cursor, limit) {
  const q = new URLSearchParams();
  q.set("limit", String(limit));
  q.set("order", filters.order || "newest");
  if (cursor) q.set("cursor", String(cursor));
  for (const k of ["actor", "action"]) if (filters[k]) q.set(k, filters[k]);
  for (const k of ["since", "until"]) if (filters[k]) q.set(k, rfc3339(filters[k]));
  return `/api/v1/audit?${q}`;
}

export function AuditPage({ api = apiDefault }) {
  const [filters, setFilters] = useState({});
  const [cursors, setCursors] = useState([0]); // the cursor of each page seen
  const [page, setPage] = useState(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function load(f, stack) {
    setBusy(true);
    setError("");
    try {
      setPage(await api("GET", query(f, stack[stack.length - 1], PAGE)));
      setCursors(stack);
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  }
  useEffect(() => { load(filters, [0]); }, []);

  function apply(ev) {
    ev.preventDefault();
    const el = ev.currentTarget.elements;
    const f = {};
    for (const k of ["actor", "action", "since", "until", "order"]) f[k] = el[k].value.trim();
    setFilters(f);
    load(f, [0]);
  }

  async function exportJson() {
    setBusy(true);
    setError("");
    try {
      const items = [];
      let cursor = 0;
      for (let i = 0; i < EXPORT_MAX_PAGES; i++) {
        const p = await api("GET", query(filters, cursor, 500));
        items.push(...p.items);
        cursor = p.next_cursor;
        if (!cursor) break;
      }
      const blob = new Blob([JSON.stringify({ items, next_cursor: cursor || null }, null, 2)],
        { type: "application/json" });
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "weft-audit.json";
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  }

  const items = page ? page.items : [];
  return html`
    <section class="page audit" aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <form class="filters" onSubmit=${apply}>
        <div><label for="audit-actor">Actor</label>
          <input id="audit-actor" name="actor" placeholder="user:alice" /></div>
        <div><label for="audit-action">Action</label>
          <input id="audit-action" name="action" placeholder="policy.update" /></div>
        <div><label for="audit-since">From</label>
          <input id="audit-since" name="since" type="datetime-local" /></div>
        <div><label for="audit-until">To</label>
          <input id="audit-until" name="until" type="datetime-local" /></div>
        <div><label for="audit-order">Order</label>
          <select id="audit-order" name="order">
            <option value="newest">Newest first</option>
            <option value="oldest">Oldest first</option>
          </select></div>
        <div class="actions">
          <button type="submit" disabled=${busy}>Filter</button>
          <button type="button" class="secondary" onClick=${exportJson} disabled=${busy}>
            Export JSON</button>
        </div>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <div class="scroll">
        <table class="audit-table">
          <thead><tr><th>Time</th><th>Actor</th><th>Action</th><th>Target</th><th>Detail</th></tr></thead>
          <tbody>${items.map((e) => html`
            <tr>
              <td>${e.at}</td><td>${e.actor}</td><td>${e.action}</td>
              <td>${e.target_type}${e.target_id ? ` ${e.target_id}` : ""}</td>
              <td><code>${JSON.stringify(e.detail)}</code></td>
            </tr>`)}</tbody>
        </table>
      </div>
      ${page && !items.length && html`<p>No entries.</p>`}
      <nav class="pager" aria-label="Audit pages">
        <button type="button" class="secondary" disabled=${busy || cursors.length < 2}
                onClick=${() => load(filters, cursors.slice(0, -1))}>Previous</button>
        <span>Page ${cursors.length}</span>
        <button type="button" class="secondary" disabled=${busy || !page || !page.next_cursor}
                onClick=${() => load(filters, [...cursors, page.next_cursor])}>Next</button>
      </nav>
    </section>`;
}
