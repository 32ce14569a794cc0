// Live views of node state: ONE long-poll loop per page load on
// GET /api/v1/nodes/watch, shared by every page that shows something the
// nodes decide (the Nodes list, the Overview's counts, relay health, the
// connector picker). A view is a loader whose answer is kept here and read
// again whenever the controller says the nodes changed.
//
// The loop: the watch version first, then every view in use, then a watch
// held since that version; on "changed" the views in use again. Pages
// subscribe and unsubscribe as they mount; the loop and its held watch
// outlive a page change, so going from the Nodes page to the Overview and
// back reuses the watch in flight instead of leaving a held request behind
// (the controller holds at most 4 per user and cannot tell that a browser
// gave up on one). The loop ends after the first answer that finds no page
// subscribed, and on 401.
import { useEffect, useState } from "preact/hooks";
import { api, listAll } from "@weft/api.js";

const WAIT_S = 25;

// The views pages use; `key` shares one cached answer between pages.
export const NODES = { key: "nodes", load: () => listAll("/api/v1/nodes") };
export const STATUS = { key: "status", load: () => api("GET", "/api/v1/status") };

const loop = { running: false, ok: false, err: "", owner: "" };
// key -> { view, data, subs: Set of setState functions }
const entries = new Map();

const inUse = () => [...entries.values()].filter((e) => e.subs.size);
const snapshot = (e) => ({ data: e.data, err: loop.err, live: loop.ok });
function publish(e) {
  for (const f of e.subs) f(snapshot(e));
}
const publishAll = () => { for (const e of entries.values()) publish(e); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function reload(e) {
  e.data = await e.view.load();
  publish(e);
}
const reloadAll = () => Promise.all(inUse().map(reload));

async function run() {
  loop.running = true;
  let since = -1;
  for (;;) {
    // A page change unsubscribes one page a moment before the next one
    // subscribes: end only when no page came back within that moment.
    if (!inUse().length) {
      await sleep(500);
      if (!inUse().length) break;
    }
    try {
      if (since < 0) {
        const v = (await api("GET", "/api/v1/nodes/watch?wait=0")).version;
        await reloadAll();
        since = v;
      }
      loop.ok = true;
      loop.err = "";
      publishAll();
      const w = await api("GET", `/api/v1/nodes/watch?since=${since}&wait=${WAIT_S}`);
      // A failed reload keeps the old version: the next watch answers at
      // once and the views are read again.
      if (w.changed) await reloadAll();
      since = w.version;
    } catch (err) {
      loop.ok = false;
      loop.err = err.message;
      publishAll();
      if (err.status === 401) break;
      await sleep(err.status === 429 ? 5000 : 2000);
    }
  }
  loop.running = false;
  for (const e of entries.values()) e.data = null;
}

// Subscribes the calling component to view while it is mounted. owner is
// who is logged in: another login in this tab while the loop still waits
// drops the old caller's answers. Returns { data (null until loaded), err
// (the API's message of the loop's last failure), live (the loop is
// watching), reload (reads the view again now, e.g. after an action) }.
export function useLive(view, owner) {
  let e = entries.get(view.key);
  if (!e) {
    e = { view, data: null, subs: new Set() };
    entries.set(view.key, e);
  }
  const [snap, setSnap] = useState(snapshot(e));
  useEffect(() => {
    if (loop.owner !== owner) {
      loop.owner = owner;
      for (const x of entries.values()) x.data = null;
    }
    const fresh = e.subs.size === 0;
    e.subs.add(setSnap);
    setSnap(snapshot(e));
    if (!loop.running) {
      run();
    } else if (fresh) {
      // The loop is held in a watch: this view was not kept current while
      // no page used it, so read it now.
      reload(e).catch((err) => { loop.err = err.message; publish(e); });
    }
    return () => e.subs.delete(setSnap);
  }, []);
  return { ...snap, reload: () => reload(e) };
}
