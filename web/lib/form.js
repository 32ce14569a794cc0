// What the edit pages (resources, relays) share: a list read from the API
// with create / edit / delete through it, and form fields (and groups of
// them) that show the API's error next to the input the error's `field`
// names.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { api, listAll } from "@weft/api.js";
import { confirmAction } from "@weft/ui.js";

// A labelled input (or, with as="select", a select whose options are the
// children). `field` is the API's name for the value; when the last
// error names it, the message is shown under the control, which is
// marked aria-invalid and described by it.
export function Field({ id, label, field, err, hint, as = "input", children, ...rest }) {
  const bad = err && err.field === field;
  const described = [hint && `${id}-hint`, bad && `${id}-err`].filter(Boolean).join(" ");
  const props = { id, name: field, "aria-invalid": bad ? "true" : undefined,
    "aria-describedby": described || undefined, ...rest };
  return html`
    <div class="field">
      <label for=${id}>${label}</label>
      ${as === "select" ? html`<select ...${props}>${children}</select>` : html`<input ...${props} />`}
      ${hint && html`<p id=${`${id}-hint`} class="muted">${hint}</p>`}
      ${bad && html`<p id=${`${id}-err`} class="error field-error" role="alert">${err.message}</p>`}
    </div>`;
}

// A group of controls (a fieldset with its legend) that the API's error
// can name as a whole, e.g. `connectors`: the message is shown at the end
// of the group, which it describes.
export function Group({ id, legend, field, err, hint, children }) {
  const bad = err && err.field === field;
  const described = [hint && `${id}-hint`, bad && `${id}-err`].filter(Boolean).join(" ");
  return html`
    <fieldset id=${id} aria-describedby=${described || undefined}>
      <legend>${legend}</legend>
      ${hint && html`<p id=${`${id}-hint`} class="muted">${hint}</p>`}
      ${children}
      ${bad && html`<p id=${`${id}-err`} class="error field-error" role="alert">${err.message}</p>`}
    </fieldset>`;
}

// The error of the last request, as {field, message}: the API's message
// and the request field it names (if any).
export const fieldError = (e) => ({ field: (e.error && e.error.field) || "", message: e.message });

// err with its field renamed by rename(field) (a form whose controls do
// not match the API's paths one to one, e.g. `filters[1].ports[0]` is the
// ports input of the row that was sent second); rename returns the name
// of the Field or Group that shows it.
export const renameField = (err, rename) => err && { ...err, field: rename(err.field) };

// The rows at `path` (every page), the form being edited and the last
// error. edit(row) opens the form on a row, edit({}) on a new one; save
// sends POST path or PATCH path/{id} and closes the form, keeping it open
// with the error when the API refuses; remove(row, question) asks first.
// changed() runs after every save or delete (other views to read again).
export function useRows(path, changed = () => {}) {
  const [rows, setRows] = useState(null);
  const [editing, setEditing] = useState(null);
  const [err, setErr] = useState(null);
  const reload = () => listAll(path).then(setRows, (e) => setErr(fieldError(e)));
  useEffect(() => { reload(); }, []);
  const edit = (row) => { setErr(null); setEditing(row); };
  const save = async (body) => {
    setErr(null);
    try {
      if (editing.id) await api("PATCH", `${path}/${editing.id}`, body);
      else await api("POST", path, body);
      setEditing(null);
    } catch (e) {
      setErr(fieldError(e));
      return;
    }
    changed();
    await reload();
  };
  const remove = async (row, question) => {
    setErr(null);
    if (!(await confirmAction(question, "Delete"))) return;
    try {
      await api("DELETE", `${path}/${row.id}`);
      if (editing && editing.id === row.id) setEditing(null);
      changed();
    } catch (e) {
      setErr(fieldError(e));
    }
    await reload();
  };
  return { rows, editing, err, edit, save, remove, cancel: () => edit(null) };
}

// An error that no shown field claims, above the form or the list.
export function FormError({ err, fields = [] }) {
  if (!err || fields.includes(err.field)) return null;
  return html`<p class="error" role="alert">${err.message}</p>`;
}

// The form's frame: its title, the fields, Save and Cancel. The first
// field gets the focus when the form opens.
export function EditForm({ id, title, onSubmit, onCancel, children }) {
  useEffect(() => {
    const el = document.querySelector(`#${id} input:not([disabled]), #${id} select`);
    if (el) el.focus();
  }, [id, title]);
  return html`
    <form id=${id} class="edit" aria-labelledby=${`${id}-title`} noValidate
          onSubmit=${(ev) => { ev.preventDefault(); onSubmit(); }}>
      <h3 id=${`${id}-title`}>${title}</h3>
      ${children}
      <div class="row">
        <button type="submit">Save</button>
        <button type="button" class="secondary" onClick=${onCancel}>Cancel</button>
      </div>
    </form>`;
}
