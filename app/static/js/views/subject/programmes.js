// The programme log of a subject's page: log a programme (name, days, notes, exercises), tick the
// workouts done, and read the before/after up the chain (GET /programmes/{id}/effect): per measure,
// ankle first, the visits before the start against the visits since, against the noise band, in the
// API's own words (rules.toml [programme]). Also the words for the next photo due ("due in 3 days").

import { get, request } from "../../api.js";
import { formatDate, h, icon, signed, todayIso } from "../../dom.js";
import { MEASURES, MOVEMENT_MEASURES } from "../../labels.js";
import { setProgrammePeriods } from "../../periods.js";
import { confirmDialog, emptyState, errorAlert, noteAlert, spinner, toast } from "../../ui.js";

const AREAS = { ankle: "Ankle", knee: "Knee", pelvis: "Pelvis", lumbar: "Lower back", overall: "Overall" };
const STATUS = { planned: "Not started yet", active: "Under way", ended: "Ended" };
const GRID_DAYS = 7; // the tick grid: the last week of the programme

/** "due in 3 days", "due today", "5 days overdue" (the report's words, app/services/report/pdf.py). */
export function dueText(dueInDays) {
  if (dueInDays === null || dueInDays === undefined) return "";
  const days = (n) => (n === 1 ? "1 day" : `${n} days`);
  if (dueInDays === 0) return "due today";
  return dueInDays > 0 ? `due in ${days(dueInDays)}` : `${days(-dueInDays)} overdue`;
}

/** The next photo as a short line for the subject's header and the list: "Next photo due in 3 days". */
export function nextPhotoLine(subject) {
  if (!subject || subject.due_in_days === null || subject.due_in_days === undefined) return null;
  const overdue = subject.due_in_days < 0;
  return h(
    "span",
    { class: `photo-due${overdue ? " is-overdue" : ""}`, "data-due": String(subject.due_in_days), title: `Every ${subject.photo_interval_days} days` },
    `Next photo ${dueText(subject.due_in_days)}`,
  );
}

function dayOf(iso) {
  return new Date(`${iso}T00:00:00Z`);
}

function addDays(iso, n) {
  return new Date(dayOf(iso).getTime() + n * 86_400_000).toISOString().slice(0, 10);
}

function number(name, value, { change = false } = {}) {
  if (value === null || value === undefined) return "\u2014";
  const meta = MEASURES[name] || MOVEMENT_MEASURES[name] || { unit: "", decimals: 1 };
  if (name === "overall_score") {
    const n = Math.round(value);
    return change ? `${signed(n, 0)} ${Math.abs(n) === 1 ? "point" : "points"}` : String(n);
  }
  const decimals = Math.max(meta.decimals ?? 1, 1);
  const text = change || meta.signed ? signed(value, decimals) : value.toFixed(decimals);
  return text + (meta.unit === "%" ? "\u202f%" : meta.unit || "");
}

function noiseText(name, noise) {
  if (noise === null || noise === undefined) return "\u2014";
  const meta = MEASURES[name] || MOVEMENT_MEASURES[name] || { unit: "" };
  const value = Number.isInteger(noise) ? String(noise) : noise.toFixed(1);
  if (name === "overall_score") return `\u00b1${value} points`;
  return `\u00b1${value}${meta.unit === "%" ? "\u202f%" : meta.unit || ""}`;
}

function slopeText(value) {
  return value === null || value === undefined ? "\u2014" : signed(value, 1);
}

function reading(m) {
  if (!m.enough) return { text: "too few visits", cls: "is-few" };
  if (m.beyond_noise === true) return { text: "beyond noise", cls: "is-beyond" };
  if (m.beyond_noise === false) return { text: "within noise", cls: "is-within" };
  return { text: "no band", cls: "is-few" };
}

/** The before/after table of one programme. */
export function effectTable(effect) {
  let area = null;
  const rows = [];
  for (const m of effect.measures) {
    if (m.area !== area) {
      area = m.area;
      rows.push(h("tr", { class: "area-row" }, h("th", { colspan: "7", scope: "colgroup" }, AREAS[area] || area)));
    }
    const r = reading(m);
    const side = (s) => `${number(m.measure, s.median)} (${s.visits})`;
    rows.push(
      h(
        "tr",
        { class: r.cls, "data-measure": m.measure, title: m.statement },
        h("th", { scope: "row" }, m.label[0].toUpperCase() + m.label.slice(1), m.source !== "standing" ? h("span", { class: "muted small" }, " (clip)") : null),
        h("td", { class: "num" }, side(m.before)),
        h("td", { class: "num" }, side(m.since)),
        h("td", { class: "num" }, number(m.measure, m.difference, { change: true })),
        h("td", { class: "num" }, noiseText(m.measure, m.noise)),
        h("td", { class: "reading" }, r.text),
        h("td", { class: "num" }, m.before.slope_per_30d === null && m.since.slope_per_30d === null ? "\u2014" : `${slopeText(m.before.slope_per_30d)} \u2192 ${slopeText(m.since.slope_per_30d)}`),
      ),
    );
  }
  const judged = effect.measures.filter((m) => m.beyond_noise !== null);
  return h(
    "div",
    { class: "effect" },
    h("p", { class: "effect-summary" }, effect.summary),
    h(
      "div",
      { class: "table-scroll" },
      h(
        "table",
        { class: "effect-table" },
        h("caption", { class: "visually-hidden" }, "Before and since the programme's start, up the chain"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Measure", "Before (n)", "Since (n)", "Change", "Noise", "Reading", "Trend /30 d"].map((t) => h("th", { scope: "col" }, t)),
          ),
        ),
        h("tbody", {}, rows),
      ),
    ),
    judged.length ? h("ul", { class: "effect-statements" }, judged.map((m) => h("li", {}, m.statement))) : null,
    effect.warnings && effect.warnings.length ? noteAlert("The visits were measured by more than one version of the analysis: small differences can come from that.", { tone: "warn" }) : null,
    h(
      "p",
      { class: "muted small" },
      `Each side is the median of its visits (n: how many; at least ${effect.min_visits} on separate days are needed on each side). The band is that between two single visits, so it errs wide. Trend: the robust slope of each side's visits, per 30 days.`,
    ),
    h("p", { class: "muted small disclaimer" }, effect.disclaimer),
  );
}

function parseExercises(text) {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const colon = line.indexOf(":");
      if (colon < 0) return { name: line };
      const dose = line.slice(colon + 1).trim();
      return { name: line.slice(0, colon).trim(), dose: dose || null };
    });
}

/** A programme's create / edit form (inline, not a dialog: it has dates and several lines). */
function programmeForm({ programme = null, onSave, onCancel }) {
  const errorBox = h("div", {});
  const id = programme ? programme.id.slice(0, 8) : "new";
  const name = h("input", { type: "text", id: `prog-name-${id}`, name: "name", maxlength: 200, required: true, value: programme ? programme.name : "", placeholder: "Calf programme, 6 weeks" });
  const start = h("input", { type: "date", id: `prog-start-${id}`, name: "start_date", required: true, value: programme ? programme.start_date : todayIso() });
  const end = h("input", { type: "date", id: `prog-end-${id}`, name: "end_date", value: programme && programme.end_date ? programme.end_date : "" });
  const notes = h("textarea", { id: `prog-notes-${id}`, name: "notes", rows: 2, maxlength: 10000 });
  notes.value = programme && programme.notes ? programme.notes : "";
  const exercises = programme ? null : h("textarea", { id: "prog-exercises-new", name: "exercises", rows: 3, placeholder: "Eccentric heel drops: 3×15\nKnee-to-wall mobilisation: 2 min each side\nSoleus stretch" });
  const field = (input, label, hint) => h("div", { class: "field" }, h("label", { for: input.id }, label), input, hint ? h("p", { class: "hint" }, hint) : null);
  return h(
    "form",
    {
      class: "programme-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const body = { name: name.value, start_date: start.value, end_date: end.value || null, notes: notes.value.trim() ? notes.value : null };
        if (exercises) body.exercises = parseExercises(exercises.value);
        try {
          await onSave(body);
        } catch (error) {
          errorBox.replaceChildren(errorAlert(error));
        }
      },
    },
    h("div", { class: "programme-form-grid" }, field(name, "Programme"), field(start, "Start"), field(end, "End (optional)", "Leave empty while it goes on.")),
    field(notes, "Notes (optional)"),
    exercises ? field(exercises, "Exercises (optional)", "One a line; the dose after a colon.") : null,
    errorBox,
    h(
      "div",
      { class: "upload-actions" },
      h("button", { type: "submit", class: "btn btn-primary" }, programme ? "Save" : "Add programme"),
      h("button", { type: "button", class: "btn btn-secondary", onclick: onCancel }, "Cancel"),
    ),
  );
}

/** The days of the tick grid: the last GRID_DAYS days of the programme up to today. */
function gridDays(programme) {
  const today = todayIso();
  const last = programme.end_date && programme.end_date < today ? programme.end_date : today;
  const days = [];
  for (let i = GRID_DAYS - 1; i >= 0; i--) {
    const day = addDays(last, -i);
    if (day >= programme.start_date) days.push(day);
  }
  return days;
}

const WEEKDAY = new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", timeZone: "UTC" });

function tickGrid(programme, onTick) {
  const days = gridDays(programme);
  if (!programme.exercises.length) return h("p", { class: "muted small" }, "No exercises: add one to tick the workouts done.");
  if (!days.length) return h("p", { class: "muted small" }, `Ticks open on ${formatDate(dayOf(programme.start_date))}.`);
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { class: "tick-grid" },
      h("caption", { class: "visually-hidden" }, "Workouts done per day"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Exercise"), days.map((d) => h("th", { scope: "col" }, WEEKDAY.format(dayOf(d)))), h("th", { scope: "col" }, "Days"))),
      h(
        "tbody",
        {},
        programme.exercises.map((e) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, e.name, e.dose ? h("span", { class: "muted small" }, ` ${e.dose}`) : null),
            days.map((d) => {
              const box = h("input", {
                type: "checkbox",
                checked: e.ticks.includes(d),
                "aria-label": `${e.name} done on ${formatDate(dayOf(d))}`,
                "data-exercise": e.id,
                "data-day": d,
                onchange: () => onTick(e, d, box),
              });
              return h("td", {}, box);
            }),
            h("td", { class: "num" }, String(e.ticks.length)),
          ),
        ),
      ),
    ),
  );
}

export function programmesSection({ subjectId, showError, onPeriods = () => {} }) {
  const state = { items: [], editing: null, adding: false, effects: new Map(), open: new Set() };
  const listBox = h("div", { class: "programme-list" });
  const formBox = h("div", {});
  const addButton = h("button", { type: "button", class: "btn btn-secondary btn-small", "data-action": "new-programme", onclick: () => { state.adding = true; render(); } }, icon("plus"), "New programme");

  const loadEffect = async (programme, box) => {
    box.replaceChildren(spinner("Reading the visits…"));
    try {
      const effect = await get(`/programmes/${programme.id}/effect`);
      state.effects.set(programme.id, effect);
      box.replaceChildren(effectTable(effect));
    } catch (error) {
      box.replaceChildren(errorAlert(error));
    }
  };

  const onTick = async (exercise, day, box) => {
    const programmeId = state.items.find((p) => p.exercises.some((e) => e.id === exercise.id)).id;
    box.disabled = true;
    try {
      const updated = await request(box.checked ? "PUT" : "DELETE", `/programmes/${programmeId}/exercises/${exercise.id}/ticks/${day}`);
      state.items = state.items.map((p) => (p.id === updated.id ? updated : p));
      render();
    } catch (error) {
      box.checked = !box.checked;
      box.disabled = false;
      showError(error);
    }
  };

  const programmeCard = (p) => {
    const effectBox = h("div", { class: "effect-box" });
    const exerciseName = h("input", { type: "text", name: "exercise", maxlength: 200, placeholder: "Add an exercise (dose after a colon)", "aria-label": "New exercise" });
    const addExercise = h(
      "form",
      {
        class: "exercise-add",
        onsubmit: async (event) => {
          event.preventDefault();
          const [exercise] = parseExercises(exerciseName.value);
          if (!exercise) return;
          try {
            const updated = await request("POST", `/programmes/${p.id}/exercises`, { body: exercise });
            state.items = state.items.map((x) => (x.id === updated.id ? updated : x));
            render();
          } catch (error) {
            showError(error);
          }
        },
      },
      exerciseName,
      h("button", { type: "submit", class: "btn btn-secondary btn-small" }, "Add"),
    );
    const days = p.end_date ? `${formatDate(dayOf(p.start_date))} \u2013 ${formatDate(dayOf(p.end_date))}` : `since ${formatDate(dayOf(p.start_date))}`;
    const card = h(
      "article",
      { class: `programme is-${p.status}`, "data-programme": p.id },
      h(
        "div",
        { class: "section-head" },
        h("div", {}, h("h3", {}, p.name), h("p", { class: "muted small" }, `${days} · ${STATUS[p.status]} · ${p.workout_days} workout ${p.workout_days === 1 ? "day" : "days"} ticked`)),
        h(
          "div",
          { class: "head-actions" },
          h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => { state.editing = p.id; render(); } }, icon("edit"), "Edit"),
          p.status !== "ended" && !p.end_date
            ? h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => save(p, { end_date: todayIso() }) }, "End today")
            : null,
          h("button", { type: "button", class: "btn btn-ghost btn-small btn-danger-text", onclick: () => remove(p) }, icon("trash"), "Delete"),
        ),
      ),
      state.editing === p.id ? programmeForm({ programme: p, onSave: (body) => save(p, body), onCancel: () => { state.editing = null; render(); } }) : null,
      p.notes ? h("p", { class: "notes" }, p.notes) : null,
      tickGrid(p, onTick),
      addExercise,
      h(
        "details",
        {
          class: "effect-details",
          open: state.open.has(p.id),
          ontoggle: (event) => {
            if (event.target.open) {
              state.open.add(p.id);
              loadEffect(p, effectBox);
            } else state.open.delete(p.id);
          },
        },
        h("summary", {}, "Before and since the start, up the chain"),
        effectBox,
      ),
    );
    if (state.open.has(p.id)) loadEffect(p, effectBox);
    return card;
  };

  async function save(p, body) {
    const updated = await request("PATCH", `/programmes/${p.id}`, { body }).catch((error) => {
      showError(error);
      return null;
    });
    if (!updated) return;
    state.items = state.items.map((x) => (x.id === updated.id ? updated : x));
    state.editing = null;
    toast("Saved.");
    publish();
    render();
  }

  async function remove(p) {
    const ok = await confirmDialog({ title: `Delete ${p.name}?`, message: "Its exercises and ticks are removed; the photos and clips stay.", confirmLabel: "Delete programme" });
    if (!ok) return;
    try {
      await request("DELETE", `/programmes/${p.id}`);
      toast("Programme deleted.");
      await refresh();
    } catch (error) {
      showError(error);
    }
  }

  const publish = () => {
    setProgrammePeriods(subjectId, state.items);
    onPeriods();
  };

  // replaceChildren(null) would write "null": an absent part is no child at all
  const fill = (box, child) => box.replaceChildren(...(child ? [child] : []));

  const render = () => {
    fill(
      formBox,
      state.adding
        ? programmeForm({
            onSave: async (body) => {
              const made = await request("POST", `/subjects/${subjectId}/programmes`, { body });
              state.adding = false;
              state.open.add(made.id);
              toast("Programme added.");
              await refresh();
            },
            onCancel: () => {
              state.adding = false;
              render();
            },
          })
        : null,
    );
    fill(
      listBox,
      state.items.length
        ? h("div", {}, state.items.map(programmeCard))
        : state.adding
          ? null
          : emptyState({ title: "No programme logged", text: "Log the programme the person follows (for example a six-week calf programme): its start splits the visits into before and since, and each measure up the chain is read against its noise.", art: "trend" }),
    );
    addButton.disabled = state.adding;
  };

  const refresh = async () => {
    state.items = await get(`/subjects/${subjectId}/programmes`);
    if (!state.open.size && state.items.length) state.open.add(state.items[0].id);
    publish();
    render();
  };

  // The calendar feed of the next photo due: a secret link a calendar app subscribes to (it cannot send
  // the API key); making a new one turns the old one off (docs/programmes.md).
  const calendarBox = h("div", { class: "calendar-link", id: "calendar-link" });
  const showCalendar = (link = null) => {
    const make = h("button", { type: "button", class: "btn btn-secondary btn-small", id: "calendar-make", onclick: () => makeLink() }, link ? "New link (turns this one off)" : "Calendar link for photo reminders");
    if (!link) {
      calendarBox.replaceChildren(make, h("p", { class: "hint" }, "A link your calendar app subscribes to: it shows the day the next photo is due, with a reminder, and the programmes. The service sends nothing."));
      return;
    }
    const url = h("input", { type: "text", readonly: true, id: "calendar-url", value: link.url, "aria-label": "Calendar link", onfocus: (e) => e.target.select() });
    calendarBox.replaceChildren(
      h("label", { for: "calendar-url" }, "Calendar link (keep it private: it opens this subject's reminders)"),
      url,
      h(
        "div",
        { class: "upload-actions" },
        h("a", { class: "btn btn-secondary btn-small", href: link.url.replace(/^https?:/, "webcal:") }, "Open in the calendar app"),
        make,
        h("button", { type: "button", class: "btn btn-ghost btn-small btn-danger-text", id: "calendar-off", onclick: () => turnOff() }, "Turn the link off"),
      ),
    );
  };
  async function makeLink() {
    try {
      showCalendar(await request("POST", `/subjects/${subjectId}/calendar`));
      toast("Calendar link made: add it to your calendar app as a subscription.");
    } catch (error) {
      showError(error);
    }
  }
  async function turnOff() {
    try {
      await request("DELETE", `/subjects/${subjectId}/calendar`);
      showCalendar(null);
      toast("Calendar link turned off.");
    } catch (error) {
      showError(error);
    }
  }
  showCalendar(null);

  const element = h(
    "section",
    { class: "card programmes", id: "programmes", "aria-labelledby": "programmes-title" },
    h("div", { class: "section-head" }, h("div", {}, h("h2", { id: "programmes-title" }, "Programmes"), h("p", { class: "muted small" }, "The work being done, and whether each link of the chain changed beyond the noise since it began: an association in time, not a cause.")), addButton),
    formBox,
    listBox,
    calendarBox,
  );
  render();
  return { element, refresh };
}
