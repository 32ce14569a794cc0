// Overview: the controller's version and database, the caller's node
// counts and (admins) the relays with how many online nodes use each as
// their home relay. GET /api/v1/status, read again through the shared
// watch loop (web/lib/live.js) whenever the nodes change, so the counts
// follow agents starting and stopping without a reload.
import { html } from "htm/preact";
import { STATUS, useLive } from "@weft/lib/live.js";

export const relayHealth = (n) =>
  n ? `in use by ${n} online node${n === 1 ? "" : "s"}` : "no online nodes";

export function Overview({ session }) {
  const { data: st, err, live, reload } = useLive(STATUS, session.actor);
  return html`
    <section aria-labelledby="ov-title">
      <div class="row"><h2 id="ov-title">Overview</h2>
        <span class=${live ? "badge on" : "badge"} role="status">${live ? "live" : "connecting…"}</span>
        <button type="button" class="secondary" onClick=${() => reload().catch(() => {})}>Refresh</button></div>
      ${err && html`<p class="error" role="alert">${err}</p>`}
      ${st && html`
        <div class="tiles">
          <div class="tile"><span class="big" data-testid="nodes-online">${st.nodes.online}</span> online</div>
          <div class="tile"><span class="big" data-testid="nodes-offline">${st.nodes.offline}</span> offline</div>
          <div class="tile"><span class="big">${st.nodes.total}</span> nodes</div>
        </div>
        <dl class="facts">
          <dt>Controller version</dt><dd>${st.version}</dd>
          <dt>Database</dt><dd>${st.database === "postgres" ? "PostgreSQL" : "SQLite"}</dd>
        </dl>
        ${st.relays && html`
          <h3>Relays</h3>
          ${st.relays.length === 0 ? html`<p>No relays are configured.</p>` : html`
            <div class="scroll"><table>
              <thead><tr><th scope="col">Relay</th>
                <th scope="col">Address</th><th scope="col">Health</th></tr></thead>
              <tbody>${st.relays.map((r) => html`
                <tr key=${r.id} data-relay=${r.name}><td>${r.name}<div class="muted">${r.region}</div></td><td>${r.address}</td>
                  <td><span class=${r.online_nodes ? "badge on" : "badge"}>${relayHealth(r.online_nodes)}</span></td></tr>`)}
              </tbody></table></div>`}`}`}
    </section>`;
}
