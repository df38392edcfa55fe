// The history section of a subject's page: the photos newest first (loaded a page at a time), each
// with a link to show it, its overall score and a delete button, and ticks to compare two of them.

import { get, request } from "../../api.js";
import { formatDate, formatTime, h, icon } from "../../dom.js";
import { confirmDialog, toast } from "../../ui.js";
import { photoCount } from "../subjects.js";

const PAGE = 20;

/** The newest page of a history of `total` photos, oldest first, with the offset of its first item. */
export async function loadNewest(subjectId, total) {
  const offset = Math.max(0, total - PAGE);
  const page = await get(`/subjects/${subjectId}/analyses`, { limit: PAGE, offset });
  return { items: page.items, offset, total: page.total };
}

/**
 * The history section over the page's `state` (history, offset, total, picked, selectedId, selected).
 * `refresh()` reloads the page after a deletion; `showError(error)` reports a failed request.
 * Returns the section element, `render()` and `markCurrent(id)` (the photo shown in the analysis panel).
 */
export function historySection({ subjectId, state, refresh, showError }) {
  const historyBox = h("section", { class: "card history", "aria-labelledby": "history-title", id: "history" });

  const markCurrent = (id) => {
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
      .map((id) => state.history.find((a) => a.id === id))
      .sort((x, y) => new Date(x.taken_at) - new Date(y.taken_at) || (x.id < y.id ? -1 : 1));
    location.hash = `#/subjects/${subjectId}/compare/${byTime[0].id}/${byTime[1].id}`;
  });
  const updateCompare = () => {
    const n = state.picked.length;
    compareButton.disabled = n !== 2;
    compareHint.textContent = n === 2 ? "Two photos selected." : n === 1 ? "Select one more photo." : "Tick two photos to compare them.";
    for (const box of historyBox.querySelectorAll(".tl-check")) box.checked = state.picked.includes(box.value);
  };

  const historyRow = (a) => {
    const date = formatDate(a.taken_at);
    const check = h("input", { type: "checkbox", class: "tl-check", value: a.id, id: `pick-${a.id}`, "aria-label": `Select the photo of ${date} for comparison` });
    check.addEventListener("change", () => {
      state.picked = state.picked.filter((id) => id !== a.id);
      if (check.checked) state.picked.push(a.id);
      if (state.picked.length > 2) state.picked = state.picked.slice(-2);
      updateCompare();
    });
    const overall = a.scores.overall;
    const del = h("button", { type: "button", class: "icon-btn", "aria-label": `Delete the photo of ${date}`, title: "Delete" }, icon("trash"));
    del.addEventListener("click", async () => {
      const ok = await confirmDialog({
        title: `Delete the photo of ${date}?`,
        message: "Its analysis, stored photo and overlay are deleted. It cannot be undone.",
        confirmLabel: "Delete photo",
      });
      if (!ok) return;
      try {
        await request("DELETE", `/analyses/${a.id}`);
        toast(`The photo of ${date} was deleted.`);
        if (state.selectedId === a.id) state.selectedId = null;
        await refresh();
        if (location.hash.includes(a.id)) location.hash = `#/subjects/${subjectId}`;
      } catch (error) {
        showError(error);
      }
    });
    return h(
      "li",
      { class: "tl-item", "data-id": a.id },
      check,
      h(
        "a",
        { class: "tl-link", href: `#/subjects/${subjectId}/analyses/${a.id}` },
        h("span", { class: "tl-date" }, date),
        h("span", { class: "tl-meta" }, [a.mode === "lunge" ? "Lunge" : "Standing", formatTime(a.taken_at)].filter(Boolean).join(" · ")),
      ),
      h("span", { class: `score-pill band-${a.bands.overall || "none"}`, title: "Overall score" }, overall === undefined ? "\u2013" : String(overall), h("span", { class: "visually-hidden" }, " of 100")),
      del,
    );
  };

  const renderHistory = () => {
    if (!state.total) {
      historyBox.replaceChildren(
        h("div", { class: "section-head" }, h("h2", { id: "history-title" }, "History")),
        h("p", { class: "muted" }, "Each photo you add is listed here, newest first."),
      );
      return;
    }
    const newestFirst = [...state.history].reverse();
    const older = state.offset > 0
      ? h(
          "button",
          {
            type: "button",
            class: "btn btn-ghost btn-small btn-block",
            onclick: async () => {
              try {
                const from = Math.max(0, state.offset - PAGE);
                const page = await get(`/subjects/${subjectId}/analyses`, { limit: state.offset - from, offset: from });
                state.history = [...page.items, ...state.history];
                state.offset = from;
                renderHistory();
              } catch (error) {
                showError(error);
              }
            },
          },
          `Show older photos (${state.offset})`,
        )
      : null;
    historyBox.replaceChildren(
      h("div", { class: "section-head" }, h("h2", { id: "history-title" }, "History"), h("span", { class: "muted small" }, photoCount(state.total))),
      h("ol", { class: "timeline", "aria-label": "Photos, newest first" }, newestFirst.map(historyRow)),
      ...(older ? [older] : []),
      h("div", { class: "compare-bar" }, compareButton, compareHint),
    );
    updateCompare();
    if (state.selected) markCurrent(state.selected.id);
  };

  return { element: historyBox, render: renderHistory, markCurrent };
}
