// The API's validation messages name the field they refuse ("retryStrategy.maxRetries: must be
// between 0 and 20"). These helpers find the form input that field path belongs to, and the
// x-field directive shows the message next to that input (aria-describedby, aria-invalid).

const PATH = /^([A-Za-z][\w]*(?:\[\d+\]|\.[A-Za-z_][\w]*)*): (.+)$/s;

/** {path, text} of an API message; path is null when the message names no field. */
export function splitMessage(message) {
  const found = PATH.exec(message || "");
  if (!found) return { path: null, text: message || "" };
  // Request-shape errors name the retry type too (retryStrategy.fixed_delay.maxRetries).
  const path = found[1].replace(/^retryStrategy\.(none|fixed_delay|scheduled)(?=\.|$)/, "retryStrategy");
  return { path, text: found[2] };
}

/** The longest field path of `fields` that `path` is, or is inside of. */
export function bestField(path, fields) {
  if (!path) return null;
  let best = null;
  for (const field of fields) {
    const inside = path === field || path.startsWith(field + ".") || path.startsWith(field + "[");
    if (inside && (!best || field.length > best.length)) best = field;
  }
  return best;
}

/** The error state a form component keeps in `formError`: on a field, or for the whole form. */
export function formErrorFor(error, formElement) {
  const fields = [...formElement.querySelectorAll("[data-field]")].map((el) => el.dataset.field);
  const { path } = splitMessage(error.message);
  return { field: bestField(path, fields), message: error.message, code: error.code };
}

export function focusField(formElement, field) {
  const target = [...formElement.querySelectorAll("[data-field]")].find((el) => el.dataset.field === field);
  const focusable = target?.matches("fieldset") ? target.querySelector("input, select, textarea") : target;
  focusable?.focus();
}

let serial = 0;

/** x-field="'path'": marks an input with its API field path; shows formError next to it. */
export function fieldDirective(el, { expression }, { evaluateLater, effect, cleanup }) {
  const readPath = evaluateLater(expression);
  const readError = evaluateLater("formError");
  const note = document.createElement("p");
  note.className = "field-error";
  note.id = `field-error-${++serial}`;
  note.hidden = true;
  if (el.tagName === "FIELDSET") el.appendChild(note);
  else el.after(note);
  cleanup(() => note.remove());
  let path = "";
  const show = (error) => {
    const mine = Boolean(error && error.field && error.field === path);
    note.hidden = !mine;
    note.textContent = mine ? error.message : "";
    if (el.tagName !== "FIELDSET") el.setAttribute("aria-invalid", mine ? "true" : "false");
    const ids = (el.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== note.id);
    if (mine) ids.push(note.id);
    if (ids.length) el.setAttribute("aria-describedby", ids.join(" "));
    else el.removeAttribute("aria-describedby");
  };
  effect(() => readPath((value) => { path = value; el.dataset.field = value; }));
  effect(() => readError(show));
}
