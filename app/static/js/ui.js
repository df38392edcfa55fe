// Shared pieces of interface: alerts, chips, the status toast and modal dialogs (native <dialog>:
// focus is trapped and restored by the browser, Escape cancels).

import { h, icon } from "./dom.js";
import { BANDS, ERROR_TITLES } from "./labels.js";

/** An error box: title from the code, the API's message, and the code itself for reference. */
export function errorAlert(error, { title } = {}) {
  const code = error && error.code ? error.code : "error";
  const heading = title || ERROR_TITLES[code] || "Something went wrong";
  return h(
    "div",
    { class: "alert alert-error", role: "alert", "data-code": code },
    icon("alert"),
    h(
      "div",
      {},
      h("p", { class: "alert-title" }, heading),
      h("p", {}, error && error.message ? error.message : String(error)),
      h("p", { class: "alert-code" }, "Code: ", h("code", {}, code)),
    ),
  );
}

export function noteAlert(text, { tone = "info" } = {}) {
  return h("div", { class: `alert alert-${tone}` }, icon(tone === "warn" ? "alert" : "info"), h("p", {}, text));
}

export function bandChip(band) {
  if (!band) return h("span", { class: "chip" }, "not scored");
  return h("span", { class: `chip band-${band}` }, BANDS[band] || band);
}

export function estimateTag() {
  return h("span", { class: "tag", title: "Estimated from the body outline, for tracking change" }, "(estimate)");
}

export function spinner(label = "Loading…") {
  return h("div", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), label);
}

export function emptyState({ title, text, art = "figure" }) {
  return h(
    "div",
    { class: "empty" },
    icon(art, "empty-art"),
    h("p", { class: "empty-title" }, title),
    text ? h("p", { class: "muted" }, text) : null,
  );
}

let toastTimer = null;

/** A short status message at the bottom of the screen (announced politely). */
export function toast(message, { tone = "ok" } = {}) {
  const box = document.getElementById("toast");
  box.replaceChildren(h("div", { class: `toast toast-${tone}` }, icon(tone === "ok" ? "check" : "alert"), message));
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => box.replaceChildren(), 5000);
}

function openDialog(build) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "dialog" });
    const done = (value) => {
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(value);
    };
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      done(null);
    });
    dialog.append(build(done));
    document.body.append(dialog);
    dialog.showModal();
    const first = dialog.querySelector("[autofocus]") || dialog.querySelector("input, button");
    if (first) first.focus();
  });
}

/** Ask before something irreversible; resolves true when confirmed. */
export async function confirmDialog({ title, message, confirmLabel = "Delete", danger = true }) {
  const answer = await openDialog((done) =>
    h(
      "form",
      {
        method: "dialog",
        onsubmit: (event) => {
          event.preventDefault();
          done(true);
        },
      },
      h("h2", { class: "dialog-title" }, title),
      h("p", {}, message),
      h(
        "div",
        { class: "dialog-actions" },
        h("button", { type: "button", class: "btn btn-secondary", onclick: () => done(null), autofocus: true }, "Cancel"),
        h("button", { type: "submit", class: danger ? "btn btn-danger" : "btn btn-primary" }, confirmLabel),
      ),
    ),
  );
  return answer === true;
}

/**
 * A small form in a dialog. fields: [{name, label, value, multiline, maxlength, required, hint}].
 * Resolves to {name: value} or null when cancelled; `submit(values)` may throw an ApiError, which is
 * shown in the dialog and keeps it open.
 */
export function formDialog({ title, fields, submitLabel = "Save", submit }) {
  return openDialog((done) => {
    const errorBox = h("div", { class: "dialog-error" });
    const inputs = {};
    const rows = fields.map((field, i) => {
      const id = `dlg-${field.name}`;
      const props = {
        id,
        name: field.name,
        maxlength: field.maxlength,
        required: field.required,
        autofocus: i === 0,
        value: field.value || "",
      };
      const input = field.multiline ? h("textarea", { ...props, rows: 3 }) : h("input", { ...props, type: "text" });
      inputs[field.name] = input;
      return h(
        "div",
        { class: "field" },
        h("label", { for: id }, field.label),
        input,
        field.hint ? h("p", { class: "hint" }, field.hint) : null,
      );
    });
    const form = h(
      "form",
      {
        method: "dialog",
        onsubmit: async (event) => {
          event.preventDefault();
          const values = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value]));
          try {
            if (submit) await submit(values);
            done(values);
          } catch (error) {
            errorBox.replaceChildren(errorAlert(error));
          }
        },
      },
      h("h2", { class: "dialog-title" }, title),
      rows,
      errorBox,
      h(
        "div",
        { class: "dialog-actions" },
        h("button", { type: "button", class: "btn btn-secondary", onclick: () => done(null) }, "Cancel"),
        h("button", { type: "submit", class: "btn btn-primary" }, submitLabel),
      ),
    );
    return form;
  });
}
