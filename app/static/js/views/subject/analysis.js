// The analysis panel of a subject's page: one photo's overlay (or the photo), scores, findings, measures
// and warnings.

import { imageUrl } from "../../api.js";
import { scoreRing } from "../../charts.js";
import { formatDate, formatTime, h, icon } from "../../dom.js";
import { AREAS, BANDS, cameraLevelText, NOT_STANDING_AREAS, formatMeasure, MEASURE_GROUPS, MEASURES, NOT_MEASURED, WARNINGS } from "../../labels.js";
import { bandChip, errorAlert, estimateTag, noteAlert, spinner } from "../../ui.js";

function describePhoto(a) {
  const parts = [a.mode === "lunge" ? "Knee-to-wall lunge" : "Standing"];
  if (a.facing) parts.push(`facing ${a.facing}`);
  const time = formatTime(a.taken_at);
  if (time) parts.push(time);
  if (a.source) parts.push(a.source);
  return parts.join(" · ");
}

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
      // A photo taken mid-stride is measured, but these areas are not scored (rules.toml [stance]).
      const stride = (a.warnings || []).includes("not_standing_still") && NOT_STANDING_AREAS.includes(area);
      const why = stride ? "not scored (not standing still)" : "not scored (not measured)";
      return h("li", { class: "area-row" }, name, h("span", { class: "area-none" }, why));
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

function levelLine(a) {
  const { text, hint } = cameraLevelText(a);
  if (!text) return null;
  return h("p", { class: "muted small camera-level", "data-level-source": a.camera_level.source }, text, hint ? h("strong", { class: "level-hint" }, ` ${hint}`) : null);
}

// A photo taken in the capture view (capture.js names its shots so) had no roll to enter: the phone
// gave none, or the level would have been read at the shot.
const CAPTURED = /^capture-\d+\.jpg$/;

function warningText(code, a) {
  if (code === "camera_level_unknown" && CAPTURED.test(a.source || "")) {
    return "The camera's tilt could not be read from the photo, and the device gave no level reading at the shot: next time, put a door frame or a wall corner in the picture, or take the photos with a phone that has a level sensor (the capture view then reads it at each shot).";
  }
  return WARNINGS[code] || code;
}

export function analysisPanel(a, { latest, previous, previousWhen = "", subjectId }) {
  const warnings = (a.warnings || []).map((code) => noteAlert(warningText(code, a), { tone: "warn" }));
  const actions = h(
    "div",
    { class: "head-actions" },
    previous
      ? h("a", { class: "btn btn-secondary btn-small", href: `#/subjects/${subjectId}/compare/${previous.id}/${a.id}` }, icon("compare"), `Compare with ${previousWhen || formatDate(previous.taken_at)}`)
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
        levelLine(a),
      ),
      actions,
    ),
    warnings.length ? h("div", { class: "warnings" }, warnings) : null,
    h("div", { class: "analysis-grid" }, overlayFigure(a), h("div", { class: "analysis-body" }, scoresBlock(a), findingsBlock(a))),
    measuresBlock(a),
  );
}
