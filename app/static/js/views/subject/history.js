// The history section of a subject's page: the visits newest first (loaded a page at a time), each with
// its median overall score, the spread of its shots and the shots themselves (a link to show each, its
// score and a delete button), and ticks to compare two visits.

import { get, request } from "../../api.js";
import { formatDate, formatTime, h, icon } from "../../dom.js";
import { formatChange } from "../../labels.js";
import { confirmDialog, toast } from "../../ui.js";
import { photoCount } from "../subjects.js";

const PAGE = 20;

/** The newest page of a history of `total` photos, oldest first, with the offset of its first item. */
export async function loadNewest(subjectId, total) {
  const offset = Math.max(0, total - PAGE);
  const page = await get(`/subjects/${subjectId}/analyses`, { limit: PAGE, offset });
  return { items: page.items, offset, total: page.total };
}

/** The newest page of the subject's visits, oldest first, with the offset of its first item. */
export async function loadNewestVisits(subjectId) {
  const head = await get(`/subjects/${subjectId}/visits`, { limit: 1, offset: 0 });
  const offset = Math.max(0, head.total - PAGE);
  if (head.total <= 1) return { items: head.items, offset: 0, total: head.total };
  const page = await get(`/subjects/${subjectId}/visits`, { limit: PAGE, offset });
  return { items: page.items, offset, total: page.total };
}

export function shotCount(n) {
  return `${n} ${n === 1 ? "shot" : "shots"}`;
}

/** "4 points" for the spread of the visit's overall scores, or "" with fewer than two scores. */
function scoreSpread(visit) {
  const scores = visit.shots.map((s) => s.overall_score).filter((v) => v !== null && v !== undefined);
  if (scores.length < 2) return "";
  return formatChange("overall_score", Math.max(...scores) - Math.min(...scores)).replace(/^\+/, "");
}

/**
 * The history section over the page's `state` (visits, visitsOffset, visitsTotal, total, picked,
 * selectedId, selected). `refresh()` reloads the page after a deletion; `showError(error)` reports a
 * failed request. Returns the section element, `render()` and `markCurrent(id)` (the photo shown in the
 * analysis panel).
 */
export function historySection({ subjectId, state, refresh, showError }) {
  const historyBox = h("section", { class: "card history", "aria-labelledby": "history-title", id: "history" });

  const markCurrent = (id) => {
    const shot = historyBox.querySelector(`.tl-item[data-id="${id}"]`);
    if (shot) setOpen(shot.closest(".visit").dataset.visit, true);
    for (const row of historyBox.querySelectorAll(".tl-item")) {
      const on = row.dataset.id === id;
      row.classList.toggle("current", on);
      const link = row.querySelector(".tl-link");
      if (on) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    }
  };

  const compareButton = h("button", { type: "button", class: "btn btn-primary", id: "compare-button", disabled: true }, icon("compare"), "Compare selected");
  const compareHint = h("span", { class: "muted small", "aria-live": "polite" }, "");
  compareButton.addEventListener("click", () => {
    if (state.picked.length !== 2) return;
    const byTime = state.picked
      .map((id) => state.visits.find((v) => v.id === id))
      .sort((x, y) => new Date(x.taken_at) - new Date(y.taken_at) || (x.id < y.id ? -1 : 1));
    location.hash = `#/subjects/${subjectId}/compare/${byTime[0].id}/${byTime[1].id}`;
  });
  const updateCompare = () => {
    const n = state.picked.length;
    compareButton.disabled = n !== 2;
    compareHint.textContent = n === 2 ? "Two visits selected." : n === 1 ? "Select one more visit." : "Tick two visits to compare them.";
    for (const box of historyBox.querySelectorAll(".tl-check")) box.checked = state.picked.includes(box.value);
  };

  const shotRow = (a, visit, index) => {
    const date = formatDate(a.taken_at);
    const time = formatTime(a.taken_at);
    const when = time ? `${date}, ${time}` : visit.n > 1 ? `${date}, shot ${index + 1}` : date;
    const del = h("button", { type: "button", class: "icon-btn", "aria-label": `Delete the photo of ${when}`, title: "Delete" }, icon("trash"));
    del.addEventListener("click", async () => {
      const ok = await confirmDialog({
        title: `Delete the photo of ${when}?`,
        message: "Its analysis, stored photo and overlay are deleted. It cannot be undone.",
        confirmLabel: "Delete photo",
      });
      if (!ok) return;
      try {
        await request("DELETE", `/analyses/${a.id}`);
        toast(`The photo of ${when} was deleted.`);
        if (state.selectedId === a.id) state.selectedId = null;
        await refresh();
        if (location.hash.includes(a.id)) location.hash = `#/subjects/${subjectId}`;
      } catch (error) {
        showError(error);
      }
    });
    const overall = a.overall_score;
    const older = a.reanalysis_skipped ? h("span", { class: "tag tag-warn", title: "Kept from an earlier version of the method: it could not be re-analysed" }, "older method") : null;
    return h(
      "li",
      { class: "tl-item", "data-id": a.id },
      h(
        "a",
        { class: "tl-link", href: `#/subjects/${subjectId}/analyses/${a.id}` },
        h("span", { class: "tl-date" }, visit.n > 1 ? `Shot ${index + 1}` : "Photo"),
        h("span", { class: "tl-meta" }, time || "time not known", older),
      ),
      h(
        "span",
        { class: `score-pill band-${a.overall_band || "none"}`, title: "Overall score" },
        overall === null || overall === undefined ? "\u2013" : String(Math.round(overall)),
        h("span", { class: "visually-hidden" }, " of 100"),
      ),
      del,
    );
  };

  const visitRow = (visit) => {
    const date = formatDate(visit.taken_at);
    const check = h("input", {
      type: "checkbox",
      class: "tl-check",
      value: visit.id,
      id: `pick-${visit.id}`,
      "aria-label": `Select the visit of ${date}${visit.label ? ` (${visit.label})` : ""} for comparison`,
    });
    check.addEventListener("change", () => {
      state.picked = state.picked.filter((id) => id !== visit.id);
      if (check.checked) state.picked.push(visit.id);
      if (state.picked.length > 2) state.picked = state.picked.slice(-2);
      updateCompare();
    });
    const overall = visit.scores.overall;
    const spread = scoreSpread(visit);
    const meta = [visit.mode === "lunge" ? "Lunge" : "Standing", shotCount(visit.n), spread ? `spread ${spread}` : ""].filter(Boolean).join(" · ");
    // One row per visit; its shots open under it (the visit of the photo shown is open).
    const shotsId = `shots-${visit.id}`;
    const open = expanded.has(visit.id);
    const toggle = h(
      "button",
      {
        type: "button",
        class: "icon-btn visit-toggle",
        "aria-expanded": String(open),
        "aria-controls": shotsId,
        "aria-label": `Shots of the visit of ${date}${visit.label ? ` (${visit.label})` : ""}`,
        title: "Show the shots",
      },
      icon("chevron"),
    );
    const shots = h("ol", { class: "shots", id: shotsId, hidden: !open, "aria-label": `Shots of the visit of ${date}` }, visit.shots.map((a, i) => shotRow(a, visit, i)));
    toggle.addEventListener("click", () => setOpen(visit.id, shots.hidden));
    return h(
      "li",
      { class: "visit", "data-visit": visit.id },
      h(
        "div",
        { class: "visit-head" },
        check,
        h(
          "label",
          { class: "visit-title", for: `pick-${visit.id}` },
          h("span", { class: "visit-date" }, date, visit.label ? h("span", { class: "visit-label" }, ` · ${visit.label}`) : null),
          h("span", { class: "tl-meta visit-meta" }, meta),
        ),
        h(
          "span",
          { class: `score-pill band-${visit.band || "none"}`, title: visit.n > 1 ? "Overall score: the median of the shots" : "Overall score" },
          overall === undefined ? "\u2013" : String(Math.round(overall)),
          h("span", { class: "visually-hidden" }, visit.n > 1 ? " of 100, median of the shots" : " of 100"),
        ),
        toggle,
      ),
      shots,
    );
  };

  // The visits whose shots are listed (by default the one of the photo shown).
  const expanded = new Set();
  const setOpen = (visitId, open) => {
    if (open) expanded.add(visitId);
    else expanded.delete(visitId);
    const row = historyBox.querySelector(`.visit[data-visit="${visitId}"]`);
    if (!row) return;
    row.querySelector(".shots").hidden = !open;
    row.querySelector(".visit-toggle").setAttribute("aria-expanded", String(open));
    row.classList.toggle("open", open);
  };

  const renderHistory = () => {
    if (!state.total) {
      historyBox.replaceChildren(
        h("div", { class: "section-head" }, h("h2", { id: "history-title" }, "History")),
        h("p", { class: "muted" }, "Each visit (the photos of one session) is listed here, newest first."),
      );
      return;
    }
    const newestFirst = [...state.visits].reverse();
    const older = state.visitsOffset > 0
      ? h(
          "button",
          {
            type: "button",
            class: "btn btn-ghost btn-small btn-block",
            onclick: async () => {
              try {
                const from = Math.max(0, state.visitsOffset - PAGE);
                const page = await get(`/subjects/${subjectId}/visits`, { limit: state.visitsOffset - from, offset: from });
                state.visits = [...page.items, ...state.visits];
                state.visitsOffset = from;
                renderHistory();
              } catch (error) {
                showError(error);
              }
            },
          },
          `Show older visits (${state.visitsOffset})`,
        )
      : null;
    const visits = state.visitsTotal === 1 ? "1 visit" : `${state.visitsTotal} visits`;
    historyBox.replaceChildren(
      h("div", { class: "section-head" }, h("h2", { id: "history-title" }, "History"), h("span", { class: "muted small" }, `${visits} · ${photoCount(state.total)}`)),
      h("p", { class: "hint" }, "Photos taken within 30 minutes of each other form one visit, shown by their median."),
      h("ol", { class: "timeline", "aria-label": "Visits, newest first" }, newestFirst.map(visitRow)),
      ...(older ? [older] : []),
      h("div", { class: "compare-bar" }, compareButton, compareHint),
    );
    updateCompare();
    if (state.selected) markCurrent(state.selected.id);
  };

  return { element: historyBox, render: renderHistory, markCurrent };
}
