// A subject's page: its header (edit, export, delete), the upload form, the selected (by default the
// latest) analysis, the history timeline and the trend charts. Each part is a module of this folder;
// this one holds the page's state and redraws the parts when it changes.

import { download, get } from "../../api.js";
import { formatDate, formatTime, h, icon } from "../../dom.js";
import { emptyState, errorAlert, spinner, toast } from "../../ui.js";
import { deleteSubject, editSubject, photoCount } from "../subjects.js";
import { analysisPanel } from "./analysis.js";
import { historySection, loadNewest, loadNewestVisits } from "./history.js";
import { loadTrends, showTrends } from "./trends.js";
import { movementsSection } from "./movements.js";
import { sectionBar } from "./sections.js";
import { nextPhotoLine, programmesSection } from "./programmes.js";
import { setProgrammePeriods } from "../../periods.js";
import { uploadForm } from "./upload.js";

function slug(name) {
  return (
    name
      .normalize("NFKD")
      .replace(/[^\w\s-]/g, "")
      .trim()
      .replace(/\s+/g, "-")
      .toLowerCase() || "subject"
  );
}

export async function subjectView(route) {
  const subjectId = route.subjectId;
  setProgrammePeriods(subjectId, []); // no shading from the subject shown before
  const state = {
    subject: null,
    history: [], // oldest first: the newest pages loaded so far
    offset: 0, // index of history[0] in the whole history
    total: 0,
    selectedId: route.analysisId,
    selected: null,
    trends: null,
    trendMode: "standing",
    visits: [], // oldest first: the newest pages of visits loaded so far
    visitsOffset: 0,
    visitsTotal: 0,
    picked: [], // visit ids ticked for comparison, oldest tick first
  };

  const load = async () => {
    const subject = await get(`/subjects/${subjectId}`);
    const [page, trends, visits] = await Promise.all([
      loadNewest(subjectId, subject.analysis_count),
      loadTrends(subjectId),
      loadNewestVisits(subjectId),
    ]);
    state.subject = subject;
    state.history = page.items;
    state.offset = page.offset;
    state.total = page.total;
    state.visits = visits.items;
    state.visitsOffset = visits.offset;
    state.visitsTotal = visits.total;
    state.trends = trends;
    if (trends.standing.n === 0 && trends.lunge.n > 0) state.trendMode = "lunge";
    if (state.trendMode === "lunge" && trends.lunge.n === 0) state.trendMode = "standing";
    state.picked = state.picked.filter((id) => state.visits.some((v) => v.id === id));
  };
  await load();

  const headBox = h("div", {});
  const analysisBox = h("section", { class: "card analysis-card", "aria-labelledby": "analysis-title", id: "analysis" });
  const trendsBox = h("section", { class: "card trends", "aria-labelledby": "trends-title", id: "trends" });
  const pageError = h("div", {});
  const showError = (error) => {
    pageError.replaceChildren(errorAlert(error));
    pageError.scrollIntoView({ block: "nearest" });
  };

  const latest = () => state.history[state.history.length - 1] || null;
  let sections = null; // the section bar (sections.js), made once the parts exist
  const timeline = historySection({ subjectId, state, refresh: () => refresh(), showError });

  // header
  const renderHead = () => {
    const s = state.subject;
    const meta = s.analysis_count ? `${photoCount(s.analysis_count)} · last ${formatDate(s.last_taken_at)}` : "No photos yet";
    headBox.replaceChildren(
      h(
        "div",
        { class: "page-head" },
        h(
          "div",
          { class: "page-title" },
          h("nav", { "aria-label": "Breadcrumb", class: "breadcrumb" }, h("a", { href: "#/" }, "Subjects"), h("span", { "aria-hidden": "true" }, " / ")),
          h("h1", { tabindex: "-1" }, s.name),
          h("p", { class: "muted" }, meta, s.due_in_days !== undefined ? " · " : null, nextPhotoLine(s)),
          s.notes ? h("p", { class: "notes" }, s.notes) : null,
        ),
        h(
          "div",
          { class: "head-actions" },
          h("button", { type: "button", class: "btn btn-secondary btn-small", onclick: onEdit }, icon("edit"), "Edit"),
          h("button", { type: "button", class: "btn btn-secondary btn-small btn-danger-text", onclick: onDelete }, icon("trash"), "Delete"),
        ),
      ),
    );
    renderReport();
  };

  // report and export: the PDF of the series the trends show, and the whole history as CSV or JSON
  const reportBox = h("section", { class: "card report-card", "aria-labelledby": "report-title", id: "report" });
  const renderReport = () => {
    const none = !state.subject.analysis_count;
    const series = state.trendMode === "lunge" ? "the lunge photos" : "the standing photos";
    reportBox.replaceChildren(
      h("div", { class: "section-head" }, h("h2", { id: "report-title" }, "Report and export")),
      h(
        "p",
        { class: "muted" },
        `One PDF to hand to a coach or physiotherapist, of ${series}: the first and the latest visit side by side, each measure against its noise, a trend chart per measure and the latest findings; with clips, each movement test's peak shin angle over time; with a programme, its before and after.`,
      ),
      h(
        "div",
        { class: "report-actions" },
        h("button", { type: "button", class: "btn btn-primary", disabled: none, onclick: onReport, "data-action": "report" }, icon("download"), "Report (PDF)"),
      ),
      h("h3", { class: "report-sub" }, "The whole history"),
      h("p", { class: "muted small" }, "Every photo and every clip with its measures and scores: photos and clips as two CSV files for a spreadsheet, or everything (visits and programmes too) as one JSON file for a program."),
      h(
        "div",
        { class: "report-actions" },
        h("button", { type: "button", class: "btn btn-secondary btn-small", disabled: none, onclick: () => onExport("csv") }, icon("download"), "Photos (CSV)"),
        // Clips are stored apart from photos: a subject may have clips, programmes and no photo yet.
        h("button", { type: "button", class: "btn btn-secondary btn-small", onclick: onExportClips }, icon("download"), "Clips (CSV)"),
        h("button", { type: "button", class: "btn btn-secondary btn-small", onclick: () => onExport("json") }, icon("download"), "Everything (JSON)"),
      ),
      ...(none ? [h("p", { class: "hint" }, "Add a first photo to make a report.")] : []),
    );
  };

  async function onEdit() {
    try {
      const updated = await editSubject(state.subject);
      if (updated) {
        state.subject = updated;
        renderHead();
        document.title = `${updated.name} · posture-profile`;
        toast("Saved.");
      }
    } catch (error) {
      showError(error);
    }
  }
  async function onDelete() {
    try {
      if (await deleteSubject(state.subject)) location.hash = "#/";
    } catch (error) {
      showError(error);
    }
  }
  async function onReport() {
    // The series shown in the trends (standing or lunge), as one PDF a coach can hand over.
    try {
      await download(`/subjects/${subjectId}/report.pdf?mode=${state.trendMode}`, `${slug(state.subject.name)}-posture-report.pdf`);
    } catch (error) {
      showError(error);
    }
  }
  async function onExport(kind) {
    try {
      await download(`/subjects/${subjectId}/export.${kind}`, `${slug(state.subject.name)}-posture.${kind}`);
    } catch (error) {
      showError(error);
    }
  }
  async function onExportClips() {
    try {
      await download(`/subjects/${subjectId}/movements/export.csv`, `${slug(state.subject.name)}-clips.csv`);
    } catch (error) {
      showError(error);
    }
  }

  // analysis panel
  const previousOf = (a) => {
    const i = state.history.findIndex((x) => x.id === a.id);
    for (let j = i - 1; j >= 0; j--) if (state.history[j].mode === a.mode) return state.history[j];
    return null;
  };
  // "6 Dec 2026", or "6 Dec 2026, 14:05" when other photos were taken that day (retakes, two visits).
  const whenOf = (a) => {
    const day = formatDate(a.taken_at);
    const time = formatTime(a.taken_at);
    const sameDay = state.history.filter((x) => x.id !== a.id && formatDate(x.taken_at) === day).length;
    return sameDay && time ? `${day}, ${time}` : day;
  };
  const renderAnalysis = async ({ focus = false } = {}) => {
    if (!state.total) {
      analysisBox.replaceChildren(
        h("h2", { id: "analysis-title", class: "visually-hidden" }, "Analysis"),
        emptyState({
          title: "No photos yet",
          text: "Add the first side photo above: the whole body in the frame, side on, the camera level at hip height. Its overlay, scores and findings appear here.",
        }),
      );
      return;
    }
    const wanted = state.selectedId || (latest() && latest().id);
    let a = state.history.find((x) => x.id === wanted);
    if (!a) {
      analysisBox.replaceChildren(spinner());
      try {
        a = await get(`/analyses/${wanted}`);
        if (a.subject_id !== subjectId) {
          throw { code: "analysis_not_found", message: "This photo belongs to another subject." };
        }
      } catch (error) {
        analysisBox.replaceChildren(h("h2", { id: "analysis-title" }, "Photo"), errorAlert(error));
        return;
      }
    }
    state.selected = a;
    if (focus && sections) sections.show("analysis");
    const previous = previousOf(a);
    analysisBox.replaceChildren(analysisPanel(a, { latest: latest() && latest().id === a.id, previous, previousWhen: previous ? whenOf(previous) : "", subjectId }));
    if (focus) {
      const title = analysisBox.querySelector("#analysis-title");
      title.focus({ preventScroll: true });
      analysisBox.scrollIntoView({ behavior: "smooth", block: "start" });
    }
    timeline.markCurrent(a.id);
  };

  // trends
  const renderTrends = () =>
    showTrends(trendsBox, state.trends, state.trendMode, (mode) => {
      state.trendMode = mode;
      renderTrends();
      renderReport();
    });

  const refresh = async () => {
    await load();
    renderHead();
    timeline.render();
    renderTrends();
    await renderAnalysis();
  };

  const upload = uploadForm(state.subject, async (analysis) => {
    state.selectedId = analysis.id;
    try {
      await refresh();
    } catch (error) {
      showError(error);
    }
    const target = `#/subjects/${subjectId}/analyses/${analysis.id}`;
    if (location.hash !== target) history.replaceState(null, "", target);
  }, {
    showAnalysis: () => sections.show("analysis", { scroll: true, focus: true }),
  });

  const movements = movementsSection({ subjectId, showError });
  const programmes = programmesSection({ subjectId, showError, onPeriods: () => renderTrends() });

  renderHead();
  timeline.render();
  const grid = h(
    "div",
    { class: "subject-grid" },
    h("div", { class: "area-upload", "data-section": "add" }, upload),
    h("div", { class: "area-analysis", "data-section": "analysis" }, analysisBox),
    h("div", { class: "area-history", "data-section": "history" }, timeline.element),
    h("div", { class: "area-trends", "data-section": "trends" }, trendsBox),
    h("div", { class: "area-movements", "data-section": "movements" }, movements.element),
    h("div", { class: "area-programmes", "data-section": "programmes" }, programmes.element),
    h("div", { class: "area-report", "data-section": "report" }, reportBox),
  );
  sections = sectionBar(grid, subjectId, route.analysisId || state.total ? "analysis" : "add");
  if (route.analysisId) sections.show("analysis");
  const element = h("div", { class: "container page subject-page" }, headBox, sections.element, pageError, grid);
  // A link to the photo already shown (the hash does not change, so the router hears nothing): show
  // the analysis section all the same ("Open the shot nearest the median" after a capture).
  element.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[href*='/analyses/']");
    if (!link || link.getAttribute("href") !== location.hash) return;
    event.preventDefault();
    sections.show("analysis", { scroll: true, focus: true });
  });
  await renderAnalysis();

  return {
    element,
    title: state.subject.name,
    mounted: () => {
      renderTrends();
      movements.refresh().catch(showError);
      programmes.refresh().catch(showError);
      if (route.analysisId) analysisBox.scrollIntoView({ block: "start" });
    },
    controller: {
      select: (analysisId) => {
        if (analysisId === state.selectedId && state.selected && state.selected.id === analysisId) return;
        state.selectedId = analysisId;
        renderAnalysis({ focus: true });
      },
    },
  };
}
