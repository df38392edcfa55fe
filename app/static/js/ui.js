// Shared pieces of interface: alerts, chips, the status toast and modal dialogs (native <dialog>:
// focus is trapped and restored by the browser, Escape cancels).

import { h, icon } from "./dom.js";
import { BANDS, ERROR_TITLES } from "./labels.js";

/** An error box: title from the code, the API's message, and the code itself for reference. */
/** The API's refusal: a title, its message, an optional `note` (what happened to the user's input), its code. */
export function errorAlert(error, { title, note } = {}) {
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
      note ? h("p", { class: "alert-note" }, note) : null,
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

// What a toast must never hide: warnings and errors, the capture view's reason and level.
const NOT_UNDER_TOAST = ".alert, .warnings, .capture-why:not([hidden]), .level, .upload-invite:not(:empty)";

function overlaps(a, b) {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}

/** Where the toast goes: the foot of the screen, else its top (under the sticky bars), whichever
 * covers no warning; at the foot when both would. */
function placeToast() {
  const box = document.getElementById("toast");
  if (!box || !box.firstChild) return;
  const bars = [...document.querySelectorAll(".topbar, .section-bar")].map((el) => el.getBoundingClientRect().bottom);
  box.style.setProperty("--toast-top", `${Math.max(0, ...bars) + 8}px`);
  const guarded = [...document.querySelectorAll(NOT_UNDER_TOAST)]
    .map((el) => el.getBoundingClientRect())
    .filter((r) => r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < window.innerHeight);
  const covers = () => {
    const r = box.getBoundingClientRect();
    return guarded.some((g) => overlaps(r, g));
  };
  box.classList.remove("at-top");
  if (!covers()) return;
  box.classList.add("at-top");
  if (covers()) box.classList.remove("at-top");
}

let placing = false;
function onScrollToast() {
  if (placing) return;
  placing = true;
  requestAnimationFrame(() => {
    placing = false;
    placeToast();
  });
}

// A warning may appear after the toast (an upload's invitation, a refused shot): placed again then.
// Made on first use, so that the module also loads where there is no DOM (the tests' Node runs).
let pageChanges = null;

function clearToast() {
  const box = document.getElementById("toast");
  box.replaceChildren();
  box.classList.remove("at-top");
  window.removeEventListener("scroll", onScrollToast);
  window.removeEventListener("resize", onScrollToast);
  if (pageChanges) pageChanges.disconnect();
}

/** A short status message at the foot of the screen (announced politely), or at its top when a warning
 * is under it; a tap dismisses it. */
export function toast(message, { tone = "ok" } = {}) {
  const box = document.getElementById("toast");
  const note = h("div", { class: `toast toast-${tone}` }, icon(tone === "ok" ? "check" : "alert"), message);
  note.addEventListener("click", clearToast);
  box.replaceChildren(note);
  placeToast();
  window.addEventListener("scroll", onScrollToast, { passive: true });
  window.addEventListener("resize", onScrollToast, { passive: true });
  const main = document.getElementById("main");
  if (main) {
    pageChanges ??= new MutationObserver(onScrollToast);
    pageChanges.observe(main, { childList: true, subtree: true });
  }
  clearTimeout(toastTimer);
  toastTimer = setTimeout(clearToast, 5000);
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
