// The list of subjects (people being tracked): create, rename, delete.

import { getAll, request } from "../api.js";
import { formatDate, h, icon } from "../dom.js";
import { confirmDialog, emptyState, errorAlert, formDialog, toast } from "../ui.js";
import { nextPhotoLine } from "./subject/programmes.js";

export function initials(name) {
  const letters = name
    .trim()
    .split(/\s+/)
    .slice(0, 2)
    .map((word) => Array.from(word)[0] || "")
    .join("");
  return letters.toUpperCase() || "?";
}

export function photoCount(n) {
  return n === 1 ? "1 photo" : `${n} photos`;
}

// A name longer than this is cut in its middle, not at its end: names that differ only at the end
// ("… Montgomery A", "… Montgomery B") stay told apart. Its text is still the whole name.
const LONG_NAME = 40;
const NAME_TAIL = 16;

function subjectName(name) {
  if (name.length <= LONG_NAME) return h("span", { class: "subject-name" }, name);
  // The tail starts at a word where one starts near the cut ("Hampton (right knee)", not "ton (ri…").
  let cut = name.length - NAME_TAIL;
  const space = name.lastIndexOf(" ", cut);
  if (space > 0 && cut - space <= 8) cut = space + 1;
  // The two parts are boxes of their own: read as one name (the visually hidden copy), not two words.
  return h(
    "span",
    { class: "subject-name subject-name-cut" },
    h("span", { class: "visually-hidden" }, name),
    h("span", { class: "name-head", "aria-hidden": "true" }, name.slice(0, cut)),
    h("span", { class: "name-tail", "aria-hidden": "true" }, name.slice(cut)),
  );
}

/** Rename / notes dialog shared with the subject page; resolves to the updated subject or null. */
export async function editSubject(subject) {
  let updated = null;
  await formDialog({
    title: `Edit ${subject.name}`,
    submitLabel: "Save",
    fields: [
      { name: "name", label: "Name or pseudonym", value: subject.name, maxlength: 200, required: true },
      {
        name: "notes",
        label: "Notes (optional)",
        value: subject.notes || "",
        multiline: true,
        maxlength: 10000,
        hint: "For example the usual camera set-up or the programme being followed.",
      },
      {
        name: "photo_interval_days",
        label: "A photo every … days",
        value: String(subject.photo_interval_days ?? 14),
        maxlength: 3,
        required: true,
        hint: "The next photo is due this many days after the latest (the protocol's: 14).",
      },
    ],
    submit: async (values) => {
      const interval = Number.parseInt(values.photo_interval_days, 10);
      updated = await request("PATCH", `/subjects/${subject.id}`, {
        body: {
          name: values.name,
          notes: values.notes.trim() ? values.notes : null,
          // the API refuses what is not 1–365 with its own words
          photo_interval_days: Number.isFinite(interval) ? interval : values.photo_interval_days,
        },
      });
    },
  });
  return updated;
}

/** Confirm and delete; resolves true when deleted. */
export async function deleteSubject(subject) {
  const n = subject.analysis_count;
  const ok = await confirmDialog({
    title: `Delete ${subject.name}?`,
    message:
      n > 0
        ? `This deletes ${subject.name} and all ${photoCount(n)} with their analyses and overlays. It cannot be undone.`
        : `This deletes ${subject.name}. It cannot be undone.`,
    confirmLabel: "Delete subject",
  });
  if (!ok) return false;
  await request("DELETE", `/subjects/${subject.id}`);
  toast(`${subject.name} was deleted.`);
  return true;
}

function subjectRow(subject, refresh, listError) {
  const meta =
    subject.analysis_count > 0
      ? `${photoCount(subject.analysis_count)} · last ${formatDate(subject.last_taken_at)}`
      : "No photos yet";
  return h(
    "li",
    { class: "subject-row" },
    h(
      "a",
      { class: "subject-link", href: `#/subjects/${subject.id}`, title: subject.name },
      h("span", { class: "avatar", "aria-hidden": "true" }, initials(subject.name)),
      h("span", { class: "subject-text" }, subjectName(subject.name), h("span", { class: "muted small" }, meta, " · ", nextPhotoLine(subject))),
      icon("chevron", "icon chevron"),
    ),
    h(
      "div",
      { class: "row-actions" },
      h(
        "button",
        {
          type: "button",
          class: "btn btn-ghost btn-small",
          "aria-label": `Rename ${subject.name}`,
          onclick: async () => {
            try {
              const updated = await editSubject(subject);
              if (updated) {
                toast(`Saved as ${updated.name}.`);
                refresh();
              }
            } catch (error) {
              listError(error);
            }
          },
        },
        icon("edit"),
        h("span", { class: "btn-text" }, "Rename"),
      ),
      h(
        "button",
        {
          type: "button",
          class: "btn btn-ghost btn-small btn-danger-text",
          "aria-label": `Delete ${subject.name}`,
          onclick: async () => {
            try {
              if (await deleteSubject(subject)) refresh();
            } catch (error) {
              listError(error);
            }
          },
        },
        icon("trash"),
        h("span", { class: "btn-text" }, "Delete"),
      ),
    ),
  );
}

export async function subjectsView() {
  const subjects = await getAll("/subjects");
  const list = h("div", { class: "subjects" });
  const errorBox = h("div", {});
  const showError = (error) => errorBox.replaceChildren(errorAlert(error));

  const refresh = async () => {
    try {
      const fresh = await getAll("/subjects");
      errorBox.replaceChildren();
      fill(fresh);
    } catch (error) {
      showError(error);
    }
  };

  function fill(items) {
    if (items.length === 0) {
      list.replaceChildren(
        emptyState({
          title: "No subjects yet",
          text: "Add the first person you want to track: a name or a pseudonym is enough.",
        }),
      );
      return;
    }
    list.replaceChildren(
      h("ul", { class: "subject-list", "aria-label": "Subjects" }, items.map((s) => subjectRow(s, refresh, showError))),
    );
  }
  fill(subjects);

  const nameInput = h("input", { id: "new-subject", name: "name", required: true, maxlength: 200, autocomplete: "off" });
  const createError = h("div", {});
  const form = h(
    "form",
    {
      class: "card create-subject",
      onsubmit: async (event) => {
        event.preventDefault();
        const name = nameInput.value.trim();
        if (!name) return;
        try {
          const subject = await request("POST", "/subjects", { body: { name } });
          nameInput.value = "";
          createError.replaceChildren();
          toast(`${subject.name} was added.`);
          location.hash = `#/subjects/${subject.id}`;
        } catch (error) {
          createError.replaceChildren(errorAlert(error));
        }
      },
    },
    h(
      "div",
      { class: "field grow" },
      h("label", { for: "new-subject" }, "Add a subject"),
      h("div", { class: "input-row" }, nameInput, h("button", { type: "submit", class: "btn btn-primary" }, icon("plus"), "Add subject")),
      h("p", { class: "hint" }, "A name or pseudonym of the person being photographed."),
    ),
    createError,
  );

  const element = h(
    "section",
    { class: "container page" },
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", { tabindex: "-1" }, "Subjects"), h("p", { class: "muted" }, "The people you track. Each one has their own photo history.")),
    ),
    form,
    errorBox,
    list,
  );
  return { element, title: "Subjects" };
}
