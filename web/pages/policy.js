// The Policy page: the JSON policy in an editor with line numbers; the
// controller checks it (POST /api/v1/policy/validate) and its errors are
// shown at their line, the document's tests with their results; Save shows
// the line diff against the saved version and asks for confirmation before
// PUT /api/v1/policy?base_version=N (so a save by someone else in between
// is refused, not overwritten). Every error is the API's own message.
// Props: api (app.js's API helper).
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api as apiDefault } from "@weft/api.js";
import { lineDiff, hasChanges } from "@weft/lib/linediff.js";

function Gutter({ lines, bad, scroll }) {
  const nums = [];
  for (let i = 1; i <= lines; i++)
    nums.push(html`<span class=${bad.has(i) ? "bad" : ""}>${i}</span>`);
  return html`<div class="gutter" aria-hidden="true"
                   style=${{ transform: `translateY(${-scroll}px)` }}>${nums}</div>`;
}

function Diff({ diff }) {
  return html`
    <pre class="diff" aria-label="Changes against the saved version">${diff
      .filter((d, i, all) => d.op !== " " ||
        all.slice(Math.max(0, i - 2), i + 3).some((x) => x.op !== " "))
      .map((d) => html`<span class=${d.op === "+" ? "add" : d.op === "-" ? "del" : ""}>${
        `${d.op} ${String(d.op === "+" ? d.b : d.a).padStart(4)}  ${d.text}\n`}</span>`)}</pre>`;
}

function Tests({ tests }) {
  if (!tests.length) return null;
  const failed = tests.filter((t) => !t.passed).length;
  return html`
    <section aria-labelledby="policy-tests">
      <h3 id="policy-tests">Tests: ${tests.length - failed} passed, ${failed} failed</h3>
      <table class="tests">
        <thead><tr><th>Result</th><th>Line</th><th>Test</th><th>Message</th></tr></thead>
        <tbody>${tests.map((t) => html`
          <tr class=${t.passed ? "pass" : "fail"}>
            <td>${t.passed ? "passed" : "failed"}</td>
            <td>${t.line}</td>
            <td>${`${t.src} → ${t.dst} (${t.proto}): ${t.expect}`}</td>
            <td>${t.message}</td>
          </tr>`)}</tbody>
      </table>
    </section>`;
}

export function PolicyPage({ api = apiDefault }) {
  const [saved, setSaved] = useState(null); // {version, text, author, created_at}
  const [text, setText] = useState("");
  const [errors, setErrors] = useState([]); // [{message, line, column}]
  const [tests, setTests] = useState([]);
  const [review, setReview] = useState(null); // the diff awaiting confirmation
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [scroll, setScroll] = useState(0);
  const area = useRef(null);

  async function load() {
    try {
      const p = await api("GET", "/api/v1/policy");
      const t = p.text;
      setSaved({ ...p, text: t });
      setText(t);
    } catch (e) {
      setErrors([{ message: e.message }]);
    }
  }
  useEffect(() => { load(); }, []);

  function edit(ev) {
    setText(ev.currentTarget.value);
    setReview(null);
    setNote("");
  }

  // Puts the caret at line:column in the editor.
  function jump(line, column) {
    const el = area.current;
    if (!el || !line) return;
    const lines = el.value.split("\n");
    let at = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) at += lines[i].length + 1;
    at += Math.max(0, (column || 1) - 1);
    el.focus();
    el.setSelectionRange(at, at);
  }

  async function validate() {
    setBusy(true);
    setNote("");
    try {
      const v = await api("POST", "/api/v1/policy/validate", text);
      setErrors(v.errors);
      setTests(v.tests);
      return v.valid;
    } catch (e) {
      setErrors([{ message: e.message }]);
      setTests([]);
      return false;
    } finally {
      setBusy(false);
    }
  }

  async function startSave() {
    setReview(null);
    if (!(await validate())) return;
    setReview(lineDiff(saved ? saved.text : "", text));
  }

  async function confirmSave() {
    setBusy(true);
    try {
      // The version this edit started from: a save in between is
      // refused (409), not overwritten.
      const p = await api("PUT", `/api/v1/policy?base_version=${saved ? saved.version : 0}`, text);
      const t = p.text;
      setSaved({ ...p, text: t });
      setReview(null);
      setErrors([]);
      setNote(`Saved as version ${p.version}.`);
    } catch (e) {
      const d = e.error && e.error.details;
      setErrors([{ message: e.message, line: d && d.line, column: d && d.column }]);
      setReview(null);
    } finally {
      setBusy(false);
    }
  }

  const nlines = text.split("\n").length;
  const bad = new Set(errors.filter((e) => e.line).map((e) => e.line)
    .concat(tests.filter((t) => !t.passed).map((t) => t.line)));
  return html`
    <section class="page policy" aria-labelledby="policy-title">
      <h2 id="policy-title">Policy</h2>
      <p class="meta">${saved
        ? `Saved version ${saved.version}${saved.author ? ` by ${saved.author}` : ""}${saved.created_at ? ` at ${saved.created_at}` : ""}.`
        : "Loading…"}</p>
      <label for="policy-text">Policy document (JSON)</label>
      <div class="editor">
        <${Gutter} lines=${nlines} bad=${bad} scroll=${scroll} />
        <textarea id="policy-text" ref=${area} spellcheck="false" wrap="off"
                  value=${text} onInput=${edit}
                  onScroll=${(e) => setScroll(e.currentTarget.scrollTop)}
                  aria-describedby="policy-errors"></textarea>
      </div>
      <div id="policy-errors" role="alert">${errors.map((e) => html`
        <p class="error">${e.line
          ? html`<button type="button" class="link" onClick=${() => jump(e.line, e.column)}>
                   Line ${e.line}, column ${e.column}</button>: `
          : ""}${e.message}</p>`)}</div>
      <div class="actions">
        <button type="button" onClick=${validate} disabled=${busy}>Check</button>
        <button type="button" onClick=${startSave} disabled=${busy}>Save…</button>
        <button type="button" class="secondary" disabled=${busy || !saved}
                onClick=${() => { setText(saved.text); setErrors([]); setTests([]); setReview(null); }}>
          Revert</button>
      </div>
      ${note && html`<p class="note" role="status">${note}</p>`}
      ${review && html`
        <section class="review" aria-labelledby="policy-review">
          <h3 id="policy-review">${hasChanges(review)
            ? `Save these changes as version ${saved ? saved.version + 1 : 1}?`
            : "No changes against the saved version. Save anyway?"}</h3>
          <${Diff} diff=${review} />
          <button type="button" onClick=${confirmSave} disabled=${busy}>Confirm save</button>
          <button type="button" class="secondary" onClick=${() => setReview(null)}>Cancel</button>
        </section>`}
      <${Tests} tests=${tests} />
    </section>`;
}
