// A subject's page: upload a photo, the selected (by default the latest) analysis with its overlay,
// scores, measures and findings, the history timeline (pick two to compare), and the trend charts.

import { download, get, imageUrl, request, uploadPhoto } from "../api.js";
import { mountChart, scoreRing, trendChart } from "../charts.js";
import { DAY_MS, formatDate, formatDuration, formatTime, h, icon, todayIso } from "../dom.js";
import {
  AREAS,
  BANDS,
  formatChange,
  formatMeasure,
  formatNoise,
  KEY_TRENDS,
  MEASURE_GROUPS,
  MEASURES,
  NOT_MEASURED,
  WARNINGS,
} from "../labels.js";
import { bandChip, confirmDialog, emptyState, errorAlert, estimateTag, noteAlert, spinner, toast } from "../ui.js";
import { deleteSubject, editSubject, photoCount } from "./subjects.js";

const PAGE = 20;
const ACCEPT = "image/jpeg,image/png,image/webp,image/heic,image/heif,.jpg,.jpeg,.png,.webp,.heic,.heif";

function describePhoto(a) {
  const parts = [a.mode === "lunge" ? "Knee-to-wall lunge" : "Standing"];
  if (a.facing) parts.push(`facing ${a.facing}`);
  const time = formatTime(a.taken_at);
  if (time) parts.push(time);
  if (a.source) parts.push(a.source);
  return parts.join(" · ");
}

function fileSize(bytes) {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

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

// --- the analysis panel ----------------------------------------------------------------------------

function overlayFigure(a) {
  const frame = h("div", { class: "img-frame" }, spinner("Loading the overlay…"));
  const caption = h(
    "figcaption",
    { class: "legend-line" },
    h("span", { class: "key key-skeleton" }, "body chain"),
    h("span", { class: "key key-plumb" }, "plumb line"),
    h("span", { class: "key key-back" }, "back outline"),
    h("span", { class: "key key-chord" }, "lumbar hollow"),
    h("span", { class: "key key-pelvis" }, "pelvis estimate"),
  );
  let showing = "overlay";
  const toggle = h("button", { type: "button", class: "btn btn-secondary btn-small", "aria-pressed": "false" }, icon("image"), "Show the photo");

  const load = async () => {
    const kind = showing;
    frame.replaceChildren(spinner(kind === "overlay" ? "Loading the overlay…" : "Loading the photo…"));
    frame.classList.toggle("is-photo", kind === "photo");
    try {
      const url = await imageUrl(`/analyses/${a.id}/${kind === "overlay" ? "overlay.png" : "photo"}`);
      if (kind !== showing) return;
      const alt =
        kind === "overlay"
          ? `Overlay of the photo of ${formatDate(a.taken_at)}: the body chain, the plumb line through the ankle and the back outline drawn on the photo, with the measures listed below the figure.`
          : `The photo of ${formatDate(a.taken_at)} as uploaded (metadata removed).`;
      const img = h("img", {
        src: url,
        alt,
        class: kind === "overlay" ? "overlay-img" : "photo-img",
        width: kind === "overlay" ? 720 : null,
        height: kind === "overlay" ? 1280 : null,
        "data-analysis": a.id,
      });
      frame.replaceChildren(img);
    } catch (error) {
      frame.replaceChildren(errorAlert(error, { title: kind === "overlay" ? "No overlay" : "No photo" }));
    }
  };
  toggle.addEventListener("click", () => {
    showing = showing === "overlay" ? "photo" : "overlay";
    toggle.setAttribute("aria-pressed", String(showing === "photo"));
    toggle.replaceChildren(icon("image"), showing === "overlay" ? "Show the photo" : "Show the overlay");
    caption.hidden = showing === "photo";
    load();
  });
  load();
  return h("figure", { class: "overlay-figure" }, frame, caption, h("div", { class: "figure-actions" }, toggle));
}

function scoresBlock(a) {
  const overall = a.scores.overall;
  // A lunge photo scores the ankle only: the other areas are left out rather than shown as gaps.
  const areas = Object.entries(AREAS).filter(([area]) => a.mode !== "lunge" || a.scores[area] !== undefined);
  const areaRows = areas.map(([area, meta]) => {
    const score = a.scores[area];
    const band = a.bands[area];
    const name = h("span", { class: "area-name" }, meta.label, meta.estimate ? estimateTag() : null);
    if (score === undefined) {
      return h("li", { class: "area-row" }, name, h("span", { class: "area-none" }, "not scored (not measured)"));
    }
    return h(
      "li",
      { class: "area-row" },
      name,
      h("span", { class: "area-bar", "aria-hidden": "true" }, h("span", { class: `area-fill band-fill-${band}`, style: `width:${score}%` })),
      h("span", { class: "area-score" }, String(score)),
      bandChip(band),
    );
  });
  const hint =
    a.mode === "lunge"
      ? "A knee-to-wall lunge photo scores the ankle only, from the shin angle in the lunge."
      : "The weighted mean of the areas below; each scores 100 inside its usual range.";
  return h(
    "div",
    { class: "scores" },
    h(
      "div",
      { class: "overall" },
      scoreRing(overall, a.bands.overall),
      h(
        "div",
        { class: "overall-text" },
        h("p", { class: "overall-label" }, "Overall score"),
        h(
          "p",
          { class: `overall-value band-text-${a.bands.overall || "none"}`, "data-test": "overall-score" },
          overall === undefined ? "Not scored" : `${overall} / 100 \u00b7 ${BANDS[a.bands.overall] || "not scored"}`,
        ),
        h("p", { class: "hint" }, hint),
      ),
    ),
    h("ul", { class: "areas", "aria-label": "Scores by area (0–100)" }, areaRows),
  );
}

function findingsBlock(a) {
  // The library ends the findings with its not-medical-advice sentence; it is shown apart, and the
  // page's own line stands in if an older result lacks it.
  const items = [...(a.findings || [])];
  let disclaimer =
    "These are estimates from a photo for tracking change over time, not a medical assessment or diagnosis.";
  if (items.length && /medical|diagnos/i.test(items[items.length - 1])) disclaimer = items.pop();
  return h(
    "div",
    { class: "findings" },
    h("h3", {}, "Findings"),
    items.length
      ? h("ul", { class: "finding-list" }, items.map((text) => h("li", {}, text)))
      : h("p", { class: "muted" }, "Every scored area is inside its usual range."),
    h("p", { class: "disclaimer" }, icon("info"), h("span", {}, disclaimer)),
  );
}

function measuresBlock(a) {
  const lowConfidence = 0.6;
  const groups = MEASURE_GROUPS.map((group) => {
    const rows = group.names
      .filter((name) => name in (a.measures || {}))
      .filter((name) => !(a.not_measured[name] === "not_lunge_mode" && a.mode !== "lunge"))
      .map((name) => {
        const meta = MEASURES[name];
        const value = a.measures[name];
        const confidence = a.confidence[name];
        let cell;
        if (value === null || value === undefined) {
          const reason = a.not_measured[name];
          cell = h("td", { class: "value not-measured" }, "not measured", reason ? h("span", { class: "why" }, NOT_MEASURED[reason] || reason) : null);
        } else {
          cell = h(
            "td",
            { class: "value" },
            formatMeasure(name, value),
            confidence !== undefined && confidence < lowConfidence
              ? h("span", { class: "why" }, `low confidence (${confidence.toFixed(2)})`)
              : null,
          );
        }
        return h(
          "tr",
          { "data-measure": name },
          h("th", { scope: "row" }, h("span", { class: "m-name" }, meta.label, meta.estimate ? estimateTag() : null), h("span", { class: "m-hint" }, meta.hint)),
          cell,
        );
      });
    if (!rows.length) return null;
    return h("table", { class: "measure-table" }, h("caption", {}, group.title), h("tbody", {}, rows));
  });
  return h(
    "div",
    { class: "measures" },
    h("div", { class: "measures-head" }, h("h3", {}, "Measures"), h("p", { class: "hint" }, "+ = forward (anterior), as if the person faced right. Angles in degrees.")),
    h("div", { class: "measure-groups" }, groups),
  );
}

function analysisPanel(a, { latest, previous, subjectId }) {
  const warnings = (a.warnings || []).map((code) => noteAlert(WARNINGS[code] || code, { tone: "warn" }));
  const actions = h(
    "div",
    { class: "head-actions" },
    previous
      ? h("a", { class: "btn btn-secondary btn-small", href: `#/subjects/${subjectId}/compare/${previous.id}/${a.id}` }, icon("compare"), `Compare with ${formatDate(previous.taken_at)}`)
      : null,
  );
  return h(
    "div",
    { class: "analysis", "data-analysis": a.id },
    h(
      "div",
      { class: "section-head" },
      h(
        "div",
        {},
        h("h2", { id: "analysis-title", tabindex: "-1" }, `Photo of ${formatDate(a.taken_at)}`, latest ? h("span", { class: "badge" }, "Latest") : null),
        h("p", { class: "muted small" }, describePhoto(a)),
      ),
      actions,
    ),
    warnings.length ? h("div", { class: "warnings" }, warnings) : null,
    h("div", { class: "analysis-grid" }, overlayFigure(a), h("div", { class: "analysis-body" }, scoresBlock(a), findingsBlock(a))),
    measuresBlock(a),
  );
}

// --- trends ----------------------------------------------------------------------------------------

function latestValue(values) {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i];
  return null;
}

function trendCaption(name, m, times) {
  const present = times.filter((_, i) => m.values[i] !== null && m.values[i] !== undefined);
  if (m.n === 0) return { tone: "none", text: "Not measured in these photos." };
  if (m.n === 1 || m.change === null || m.change === undefined) {
    return {
      tone: "none",
      text: `One photo so far: the band (${formatNoise(name, m.noise)}) shows how far the next photo has to move to count as a change.`,
    };
  }
  const days = (present[present.length - 1] - present[0]) / DAY_MS;
  const change = formatChange(name, m.change);
  const over = `over ${formatDuration(days)}`;
  if (m.beyond_noise) {
    return {
      tone: "beyond",
      text: `Change beyond noise: ${change} ${over} on the trend line, more than the noise of ${formatNoise(name, m.noise)}.`,
    };
  }
  return {
    tone: "within",
    text: `Change within noise: ${change} ${over} is inside ${formatNoise(name, m.noise)}, so it does not count as a change yet.`,
  };
}

function trendCard(name, m, times, { big = false } = {}) {
  const meta = MEASURES[name] || { label: name };
  const caption = trendCaption(name, m, times);
  const latest = latestValue(m.values);
  const box = h("div", { class: "chart-box", style: `height:${big ? 220 : 170}px` });
  const card = h(
    "figure",
    { class: `trend-card${big ? " trend-card-big" : ""}`, "data-measure": name },
    h(
      "div",
      { class: "trend-head" },
      h("h3", {}, meta.label, meta.estimate ? estimateTag() : null),
      latest !== null ? h("span", { class: "trend-latest" }, h("span", { class: "muted" }, "latest "), formatMeasure(name, latest)) : null,
    ),
    box,
    h("figcaption", { class: `trend-caption tone-${caption.tone}` }, icon(caption.tone === "beyond" ? "arrow" : caption.tone === "within" ? "equal" : "info"), h("span", {}, caption.text)),
  );
  const spec = {
    times,
    values: m.values,
    noise: m.noise,
    fitStart: m.fit_start,
    fitEnd: m.fit_end,
    beyond: m.beyond_noise,
    height: big ? 220 : 170,
    label: meta.label,
    format: (v) => formatMeasure(name, v),
    noiseText: formatNoise(name, m.noise),
    bounds: name === "overall_score" ? [0, 100] : name === "heel_lift" ? [0, 1] : null,
    zeroLine: Boolean(meta.signed),
    ariaLabel: `${meta.label} over time, ${m.n} ${m.n === 1 ? "photo" : "photos"}. ${caption.text}`,
  };
  return { card, mount: () => mountChart(box, (width) => trendChart(spec, width)) };
}

function trendsContent(trends) {
  const mounts = [];
  if (!trends || trends.n === 0) {
    return {
      element: emptyState({ title: "No trend yet", text: "Trends appear here once photos are added: one chart per measure over time.", art: "trend" }),
      mount: () => {},
    };
  }
  const times = trends.taken_at.map((t) => new Date(t));
  const overall = trendCard("overall_score", trends.measures.overall_score, times, { big: true });
  mounts.push(overall.mount);
  const available = Object.keys(trends.measures).filter((name) => name !== "overall_score" && trends.measures[name].n > 0);
  const key = KEY_TRENDS.filter((name) => available.includes(name));
  const more = available.filter((name) => !KEY_TRENDS.includes(name));
  const keyCards = key.map((name) => trendCard(name, trends.measures[name], times));
  const moreCards = more.map((name) => trendCard(name, trends.measures[name], times));
  mounts.push(...keyCards.map((c) => c.mount), ...moreCards.map((c) => c.mount));
  const first = times[0];
  const last = times[times.length - 1];
  const summary =
    trends.n === 1
      ? `1 photo, ${formatDate(first)}. Add another to see a trend.`
      : `${photoCount(trends.n)} from ${formatDate(first)} to ${formatDate(last)} (${formatDuration((last - first) / DAY_MS)}).`;
  const element = h(
    "div",
    { class: "trends-body" },
    h("p", { class: "muted trends-summary" }, summary),
    h(
      "ul",
      { class: "chart-legend", "aria-label": "How to read the charts" },
      h("li", {}, h("span", { class: "swatch swatch-band", "aria-hidden": "true" }), "Noise band: a change that stays inside it is within photo-to-photo noise, not progress"),
      h("li", {}, h("span", { class: "swatch swatch-fit", "aria-hidden": "true" }), "Trend line (robust fit)"),
      h("li", {}, h("span", { class: "swatch swatch-pt", "aria-hidden": "true" }), "One photo"),
    ),
    overall.card,
    h("div", { class: "trend-grid" }, keyCards.map((c) => c.card)),
    moreCards.length
      ? h(
          "details",
          { class: "more-trends" },
          h("summary", {}, `More measures (${moreCards.length})`),
          h("div", { class: "trend-grid" }, moreCards.map((c) => c.card)),
        )
      : null,
  );
  return { element, mount: () => mounts.forEach((m) => m()) };
}

// --- the upload form -------------------------------------------------------------------------------

function uploadForm(subject, onUploaded) {
  const fileInput = h("input", { type: "file", id: "photo", name: "photo", accept: ACCEPT, required: true, class: "visually-hidden" });
  const dropText = h(
    "span",
    { class: "drop-text" },
    h("span", { class: "drop-title" }, "Choose a photo"),
    h("span", { class: "muted small" }, "or drop it here · JPEG, PNG, WebP or HEIC"),
  );
  const preview = h("span", { class: "drop-preview", "aria-hidden": "true" }, icon("camera", "icon drop-icon"));
  const dropLabel = h("label", { for: "photo", class: "drop" }, preview, dropText);
  const dateInput = h("input", { type: "date", id: "taken-at", name: "taken_at", max: todayIso(), "aria-describedby": "taken-at-hint" });
  const facing = h(
    "select",
    { id: "facing", name: "facing" },
    h("option", { value: "" }, "Auto-detect"),
    h("option", { value: "left" }, "Facing left"),
    h("option", { value: "right" }, "Facing right"),
  );
  const mode = h(
    "select",
    { id: "mode", name: "mode" },
    h("option", { value: "standing" }, "Standing"),
    h("option", { value: "lunge" }, "Knee-to-wall lunge"),
  );
  const roll = h("input", {
    type: "number",
    id: "camera-roll",
    name: "camera_roll_deg",
    min: -45,
    max: 45,
    step: 0.1,
    inputmode: "decimal",
    placeholder: "0",
    "aria-describedby": "camera-roll-hint",
  });
  const submit = h("button", { type: "submit", class: "btn btn-primary", id: "upload-button" }, icon("upload"), "Analyse photo");
  const cancel = h("button", { type: "button", class: "btn btn-secondary", hidden: true }, "Cancel");
  const bar = h("progress", { max: 100, value: 0, "aria-labelledby": "upload-status" });
  const statusText = h("span", { id: "upload-status" }, "");
  const progress = h("div", { class: "progress", hidden: true }, bar, statusText);
  const message = h("div", { class: "upload-message", "aria-live": "polite" });
  let previewUrl = null;
  let current = null;

  const showFile = (file) => {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    if (!file) {
      preview.replaceChildren(icon("camera", "icon drop-icon"));
      dropText.replaceChildren(h("span", { class: "drop-title" }, "Choose a photo"), h("span", { class: "muted small" }, "or drop it here · JPEG, PNG, WebP or HEIC"));
      dropLabel.classList.remove("has-file");
      return;
    }
    previewUrl = URL.createObjectURL(file);
    const img = h("img", { src: previewUrl, alt: "" });
    img.addEventListener("error", () => preview.replaceChildren(icon("image", "icon drop-icon")));
    preview.replaceChildren(img);
    dropText.replaceChildren(h("span", { class: "drop-title file-name" }, file.name), h("span", { class: "muted small" }, `${fileSize(file.size)} · choose another`));
    dropLabel.classList.add("has-file");
    message.replaceChildren();
  };
  fileInput.addEventListener("change", () => showFile(fileInput.files[0]));
  for (const type of ["dragenter", "dragover"]) {
    dropLabel.addEventListener(type, (event) => {
      event.preventDefault();
      dropLabel.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    dropLabel.addEventListener(type, () => dropLabel.classList.remove("dragging"));
  }
  dropLabel.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      fileInput.files = event.dataTransfer.files;
      showFile(fileInput.files[0]);
    }
  });

  const setBusy = (busy) => {
    for (const el of [fileInput, dateInput, facing, mode, roll, submit]) el.disabled = busy;
    cancel.hidden = !busy;
    progress.hidden = !busy;
  };

  const form = h(
    "form",
    {
      class: "upload-form",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        const file = fileInput.files[0];
        if (!file) {
          message.replaceChildren(errorAlert({ code: "no_photo", message: "Choose a photo first." }, { title: "No photo chosen" }));
          fileInput.focus();
          return;
        }
        if (roll.value !== "" && (!roll.checkValidity() || Math.abs(Number(roll.value)) > 45)) {
          message.replaceChildren(errorAlert({ code: "invalid_option", message: "The camera roll must be a number between −45° and 45°." }));
          roll.focus();
          return;
        }
        const data = new FormData();
        data.append("photo", file, file.name);
        if (dateInput.value) data.append("taken_at", dateInput.value);
        if (facing.value) data.append("facing", facing.value);
        data.append("mode", mode.value);
        if (roll.value !== "") data.append("camera_roll_deg", roll.value);

        message.replaceChildren();
        bar.value = 0;
        statusText.textContent = "Uploading… 0 %";
        setBusy(true);
        current = uploadPhoto(subject.id, data, {
          onProgress: (fraction) => {
            bar.value = Math.round(fraction * 100);
            statusText.textContent = `Uploading… ${Math.round(fraction * 100)} %`;
          },
          onUploaded: () => {
            bar.removeAttribute("value"); // indeterminate while the server analyses
            statusText.textContent = "Analysing the photo…";
            cancel.hidden = true;
          },
        });
        try {
          const analysis = await current.promise;
          form.reset();
          showFile(null);
          dateInput.max = todayIso();
          const overall = analysis.scores.overall;
          toast(`Photo analysed${overall !== undefined ? `: overall ${overall} / 100` : ""}.`);
          await onUploaded(analysis);
        } catch (error) {
          message.replaceChildren(errorAlert(error));
        } finally {
          current = null;
          setBusy(false);
        }
      },
    },
    h("div", { class: "upload-file" }, fileInput, dropLabel),
    h(
      "div",
      { class: "upload-fields" },
      h("div", { class: "field" }, h("label", { for: "taken-at" }, "Date taken"), dateInput, h("p", { class: "hint", id: "taken-at-hint" }, "Optional: else the photo's own date, else today.")),
      h("div", { class: "field" }, h("label", { for: "facing" }, "Facing"), facing),
      h("div", { class: "field" }, h("label", { for: "mode" }, "Mode"), mode),
      h("div", { class: "field" }, h("label", { for: "camera-roll" }, "Camera roll (°)"), roll, h("p", { class: "hint", id: "camera-roll-hint" }, "Optional, from the phone's level.")),
      h("div", { class: "upload-actions" }, submit, cancel, progress),
    ),
  );
  cancel.addEventListener("click", () => current && current.abort());
  return h(
    "section",
    { class: "card upload", "aria-labelledby": "upload-title" },
    h(
      "div",
      { class: "section-head" },
      h("h2", { id: "upload-title" }, "Add a photo"),
      h("p", { class: "muted small" }, "Side on, whole body in the frame, camera level at hip height."),
    ),
    form,
    message,
  );
}

// --- the page ----------------------------------------------------------------------------------------

async function loadNewest(subjectId, total) {
  const offset = Math.max(0, total - PAGE);
  const page = await get(`/subjects/${subjectId}/analyses`, { limit: PAGE, offset });
  return { items: page.items, offset, total: page.total };
}

async function loadTrends(subjectId) {
  const [standing, lunge] = await Promise.all([
    get(`/subjects/${subjectId}/trends`, { mode: "standing" }),
    get(`/subjects/${subjectId}/trends`, { mode: "lunge" }),
  ]);
  return { standing, lunge };
}

export async function subjectView(route) {
  const subjectId = route.subjectId;
  const state = {
    subject: null,
    history: [], // oldest first: the newest pages loaded so far
    offset: 0, // index of history[0] in the whole history
    total: 0,
    selectedId: route.analysisId,
    selected: null,
    trends: null,
    trendMode: "standing",
    picked: [], // ids ticked for comparison, oldest tick first
  };

  const load = async () => {
    const subject = await get(`/subjects/${subjectId}`);
    const [page, trends] = await Promise.all([loadNewest(subjectId, subject.analysis_count), loadTrends(subjectId)]);
    state.subject = subject;
    state.history = page.items;
    state.offset = page.offset;
    state.total = page.total;
    state.trends = trends;
    if (trends.standing.n === 0 && trends.lunge.n > 0) state.trendMode = "lunge";
    if (state.trendMode === "lunge" && trends.lunge.n === 0) state.trendMode = "standing";
    state.picked = state.picked.filter((id) => state.history.some((a) => a.id === id));
  };
  await load();

  const headBox = h("div", {});
  const analysisBox = h("section", { class: "card analysis-card", "aria-labelledby": "analysis-title", id: "analysis" });
  const historyBox = h("section", { class: "card history", "aria-labelledby": "history-title", id: "history" });
  const trendsBox = h("section", { class: "card trends", "aria-labelledby": "trends-title", id: "trends" });
  const pageError = h("div", {});
  const showError = (error) => {
    pageError.replaceChildren(errorAlert(error));
    pageError.scrollIntoView({ block: "nearest" });
  };

  const latest = () => state.history[state.history.length - 1] || null;

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
          h("p", { class: "muted" }, meta),
          s.notes ? h("p", { class: "notes" }, s.notes) : null,
        ),
        h(
          "div",
          { class: "head-actions" },
          h("button", { type: "button", class: "btn btn-secondary btn-small", onclick: onEdit }, icon("edit"), "Edit"),
          h(
            "button",
            { type: "button", class: "btn btn-secondary btn-small", disabled: !s.analysis_count, onclick: () => onExport("csv") },
            icon("download"),
            "CSV",
          ),
          h(
            "button",
            { type: "button", class: "btn btn-secondary btn-small", disabled: !s.analysis_count, onclick: () => onExport("json") },
            icon("download"),
            "JSON",
          ),
          h("button", { type: "button", class: "btn btn-secondary btn-small btn-danger-text", onclick: onDelete }, icon("trash"), "Delete"),
        ),
      ),
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
  async function onExport(kind) {
    try {
      await download(`/subjects/${subjectId}/export.${kind}`, `${slug(state.subject.name)}-posture.${kind}`);
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
    analysisBox.replaceChildren(analysisPanel(a, { latest: latest() && latest().id === a.id, previous: previousOf(a), subjectId }));
    if (focus) {
      const title = analysisBox.querySelector("#analysis-title");
      title.focus({ preventScroll: true });
      analysisBox.scrollIntoView({ behavior: "smooth", block: "start" });
    }
    for (const row of historyBox.querySelectorAll(".tl-item")) {
      const on = row.dataset.id === a.id;
      row.classList.toggle("current", on);
      const link = row.querySelector(".tl-link");
      if (on) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    }
  };

  // history
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
    if (state.selected) {
      const row = historyBox.querySelector(`.tl-item[data-id="${state.selected.id}"]`);
      if (row) {
        row.classList.add("current");
        row.querySelector(".tl-link").setAttribute("aria-current", "true");
      }
    }
  };

  // trends
  const renderTrends = () => {
    const { standing, lunge } = state.trends;
    const both = standing.n > 0 && lunge.n > 0;
    const trends = state.trends[state.trendMode];
    const content = trendsContent(trends);
    const modeSwitch = both
      ? h(
          "div",
          { class: "segmented", role: "group", "aria-label": "Which photos" },
          ["standing", "lunge"].map((mode) =>
            h(
              "button",
              {
                type: "button",
                "aria-pressed": String(state.trendMode === mode),
                onclick: () => {
                  state.trendMode = mode;
                  renderTrends();
                },
              },
              mode === "standing" ? `Standing (${standing.n})` : `Lunge (${lunge.n})`,
            ),
          ),
        )
      : null;
    trendsBox.replaceChildren(
      h("div", { class: "section-head" }, h("div", {}, h("h2", { id: "trends-title" }, "Trends"), h("p", { class: "muted small" }, "Each measure over time, with the band of change that photos cannot tell from noise.")), modeSwitch),
      content.element,
    );
    content.mount();
  };

  const refresh = async () => {
    await load();
    renderHead();
    renderHistory();
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
  });

  renderHead();
  renderHistory();
  const element = h(
    "div",
    { class: "container page subject-page" },
    headBox,
    pageError,
    h("div", { class: "subject-grid" }, h("div", { class: "area-upload" }, upload), h("div", { class: "area-analysis" }, analysisBox), h("div", { class: "area-history" }, historyBox), h("div", { class: "area-trends" }, trendsBox)),
  );
  await renderAnalysis();

  return {
    element,
    title: state.subject.name,
    mounted: () => {
      renderTrends();
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
