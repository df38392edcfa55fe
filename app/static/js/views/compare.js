// Two analyses or two visits side by side: the overlays (rendered at one scale with the ankle at one
// canvas point, so equal widths line them up; a visit is shown by its shot nearest the medians) and the
// per-measure differences (a visit's: of its medians), each marked beyond or within the noise band,
// with the band's source in words.

import { get, imageUrl } from "../api.js";
import { formatDate, formatDuration, h, icon } from "../dom.js";
import { formatChange, formatMeasure, formatNoise, MEASURE_GROUPS, MEASURES, WARNINGS } from "../labels.js";
import { bandChip, errorAlert, estimateTag, noteAlert, spinner } from "../ui.js";
import { areaList, bandSource } from "./subject/trends.js";

/** How one side is described: a photo, or a visit by its shots and median score. */
function sideText(side, visit, analysis) {
  if (side.kind !== "visit") {
    const overall = analysis.scores.overall;
    return { score: overall === undefined ? "not scored" : `Overall ${overall} / 100`, band: analysis.bands.overall, note: "" };
  }
  const overall = visit.scores.overall;
  const shots = `${visit.n} ${visit.n === 1 ? "shot" : "shots"}`;
  return {
    score: overall === undefined ? `Visit of ${shots}, not scored` : `Visit of ${shots} · median overall ${Math.round(overall)} / 100`,
    band: visit.band,
    note: visit.n > 1 ? "Shown: the shot nearest the visit's medians." : "",
  };
}

function overlay(analysis, letter, subjectId, side = { kind: "analysis" }, visit = null) {
  const frame = h("div", { class: "img-frame" }, spinner("Loading the overlay…"));
  imageUrl(`/analyses/${analysis.id}/overlay.png`)
    .then((url) => {
      frame.replaceChildren(
        h("img", {
          src: url,
          alt: `Overlay ${letter}, photo of ${formatDate(analysis.taken_at)}: the body chain, plumb line and back outline drawn on the photo.`,
          class: "overlay-img",
          width: 720,
          height: 1280,
          "data-analysis": analysis.id,
        }),
      );
    })
    .catch((error) => frame.replaceChildren(errorAlert(error, { title: "No overlay" })));
  const text = sideText(side, visit, analysis);
  return h(
    "figure",
    { class: "compare-figure", "data-letter": letter, "data-kind": side.kind },
    h(
      "figcaption",
      {},
      h("span", { class: "letter", "aria-hidden": "true" }, letter),
      h(
        "span",
        { class: "compare-when" },
        h("a", { href: `#/subjects/${subjectId}/analyses/${analysis.id}` }, formatDate(side.kind === "visit" ? visit.taken_at : analysis.taken_at)),
        h("span", { class: "muted small" }, text.score),
        text.note ? h("span", { class: "muted small" }, text.note) : null,
      ),
      text.band ? bandChip(text.band) : null,
    ),
    frame,
  );
}

/** Both overlays stacked, B over A with a slider for its opacity: what moved shows as a double line. */
function blendView(a, b) {
  const frame = h("div", { class: "img-frame blend-frame" }, spinner("Loading the overlays…"));
  const range = h("input", { type: "range", id: "blend", min: 0, max: 100, step: 1, value: 50, "aria-valuetext": "50 % B" });
  Promise.all([imageUrl(`/analyses/${a.id}/overlay.png`), imageUrl(`/analyses/${b.id}/overlay.png`)])
    .then(([urlA, urlB]) => {
      const top = h("img", {
        src: urlB,
        alt: `Overlay B, photo of ${formatDate(b.taken_at)}, drawn over overlay A.`,
        class: "overlay-img blend-top",
        width: 720,
        height: 1280,
      });
      const apply = () => {
        top.style.opacity = String(Number(range.value) / 100);
        range.setAttribute("aria-valuetext", `${range.value} % B`);
      };
      range.addEventListener("input", apply);
      apply();
      frame.replaceChildren(
        h("img", {
          src: urlA,
          alt: `Overlay A, photo of ${formatDate(a.taken_at)}.`,
          class: "overlay-img",
          width: 720,
          height: 1280,
        }),
        top,
      );
    })
    .catch((error) => frame.replaceChildren(errorAlert(error, { title: "No overlay" })));
  return h(
    "div",
    { class: "blend" },
    frame,
    h(
      "div",
      { class: "blend-control" },
      h("label", { for: "blend" }, "Mix A and B"),
      h("div", { class: "blend-range" }, h("span", { "aria-hidden": "true" }, `A · ${formatDate(a.taken_at)}`), h("span", { "aria-hidden": "true" }, `B · ${formatDate(b.taken_at)}`)),
      range,
    ),
  );
}

function verdict(name, d) {
  if (d.difference === null || d.difference === undefined) {
    return h("span", { class: "verdict verdict-none" }, "not in both");
  }
  if (d.within_noise === null || d.within_noise === undefined) {
    return h("span", { class: "verdict verdict-none" }, "no noise level");
  }
  const beyond = !d.within_noise;
  return h(
    "span",
    { class: `verdict ${beyond ? "verdict-beyond" : "verdict-within"}` },
    h("span", { class: "verdict-pill" }, beyond ? "Beyond noise" : "Within noise"),
    h("span", { class: "verdict-noise" }, `noise ${formatNoise(name, d.noise)}`),
    h("span", { class: "verdict-source", "data-source": d.noise_source }, bandSource(d, { short: true })),
  );
}

function differencesTable(cmp) {
  const order = ["overall_score", ...MEASURE_GROUPS.flatMap((g) => g.names)];
  const names = [...order.filter((n) => n in cmp.measures), ...Object.keys(cmp.measures).filter((n) => !order.includes(n))];
  const rows = names
    .filter((name) => {
      const d = cmp.measures[name];
      return !(d.a === null && d.b === null);
    })
    .map((name) => {
      const d = cmp.measures[name];
      const meta = MEASURES[name] || { label: name };
      const beyond = d.within_noise === false;
      return h(
        "tr",
        { class: beyond ? "row-beyond" : "", "data-measure": name },
        h(
          "th",
          { scope: "row" },
          h("span", { class: "m-name" }, meta.label, meta.estimate ? estimateTag() : null),
          h(
            "span",
            { class: "m-hint" },
            h("span", { class: "visually-hidden" }, "A "),
            formatMeasure(name, d.a),
            h("span", { "aria-hidden": "true" }, " \u2192 "),
            h("span", { class: "visually-hidden" }, " B "),
            formatMeasure(name, d.b),
          ),
        ),
        h("td", { class: "num change" }, formatChange(name, d.difference)),
        h("td", { class: "verdict-cell" }, verdict(name, d)),
      );
    });
  return h(
    "table",
    { class: "diff-table" },
    h("caption", { class: "visually-hidden" }, "Per-measure differences, B minus A, against each measure's noise"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Measure ", h("span", { class: "th-sub" }, "A \u2192 B")),
        h("th", { scope: "col", class: "num" }, "Change"),
        h("th", { scope: "col" }, "Against noise"),
      ),
    ),
    h("tbody", {}, rows),
  );
}

/** When A and B scored different areas: over which the overall scores were compared, and as scored. */
function likeForLikeText(o) {
  const onlyA = o.areas_only_a || [];
  const onlyB = o.areas_only_b || [];
  if (!onlyA.length && !onlyB.length) return null;
  const what = [onlyA.length ? `only A scored ${areaList(onlyA)}` : null, onlyB.length ? `only B scored ${areaList(onlyB)}` : null].filter(Boolean).join("; ");
  const asScored = `As scored, over all their own areas: ${formatMeasure("overall_score", o.a_as_scored)} → ${formatMeasure("overall_score", o.b_as_scored)}, a difference that comes partly from what was scored.`;
  if (!o.areas || !o.areas.length || o.difference === null || o.difference === undefined) {
    return `The overall scores are not compared: ${what}, and they share no scored area. ${asScored}`;
  }
  return `Compared like for like: ${what} (a measure not taken in one of them), so both overall scores above are over the same areas only (${areaList(o.areas)}). ${asScored}`;
}

function summary(cmp) {
  const entries = Object.entries(cmp.measures).filter(([name, d]) => name !== "overall_score" && d.within_noise !== null && d.within_noise !== undefined);
  const beyond = entries.filter(([, d]) => d.within_noise === false);
  const o = cmp.measures.overall_score;
  const parts = [];
  if (o && o.difference !== null && o.difference !== undefined) {
    parts.push(
      h(
        "p",
        { class: "summary-main" },
        `Overall score ${formatMeasure("overall_score", o.a)} → ${formatMeasure("overall_score", o.b)}: `,
        h("strong", {}, o.within_noise ? "change within noise" : "change beyond noise"),
        ` (${formatChange("overall_score", o.difference)}, noise ${formatNoise("overall_score", o.noise)}).`,
      ),
    );
  }
  const differ = o ? likeForLikeText(o) : null;
  if (differ) parts.push(h("p", { class: "summary-areas", "data-like-for-like": "true" }, differ));
  parts.push(
    h(
      "p",
      { class: "muted" },
      beyond.length === 0
        ? `None of the ${entries.length} measures compared changed beyond its noise: these two ${cmp.a.kind === "visit" && cmp.b.kind === "visit" ? "visits" : "photos"} show no change that can be told from re-taking the photos.`
        : `${beyond.length} of ${entries.length} measures changed beyond noise: ${beyond.map(([n]) => (MEASURES[n] || { label: n }).label.toLowerCase()).join(", ")}.`,
    ),
  );
  return h("div", { class: "compare-summary" }, parts);
}

export async function compareView(route) {
  const { subjectId, a: aId, b: bId } = route;
  const [cmp, subject] = await Promise.all([get("/compare", { a: aId, b: bId }), get(`/subjects/${subjectId}`)]);
  // Each side is shown by a photo: itself, or a visit's shot nearest its medians.
  const visitOf = (side) => (side.kind === "visit" ? get(`/visits/${side.id}`) : Promise.resolve(null));
  const [a, b, visitA, visitB] = await Promise.all([
    get(`/analyses/${cmp.a.central_analysis_id || cmp.a.id}`),
    get(`/analyses/${cmp.b.central_analysis_id || cmp.b.id}`),
    visitOf(cmp.a),
    visitOf(cmp.b),
  ]);
  const visits = cmp.a.kind === "visit" && cmp.b.kind === "visit";
  const when = (side) => side.taken_at;
  const days = cmp.days_between;
  const sideBySide = h("div", { class: "compare-grid" }, overlay(a, "A", subjectId, cmp.a, visitA), overlay(b, "B", subjectId, cmp.b, visitB));
  const views = h("div", {}, sideBySide);
  let blended = null;
  const buttons = [
    ["side", "Side by side"],
    ["blend", "Overlaid"],
  ].map(([kind, label]) => {
    const button = h("button", { type: "button", "aria-pressed": String(kind === "side") }, label);
    button.addEventListener("click", () => {
      for (const other of buttons) other.setAttribute("aria-pressed", String(other === button));
      if (kind === "blend" && !blended) blended = blendView(a, b);
      views.replaceChildren(kind === "side" ? sideBySide : blended);
    });
    return button;
  });
  const viewSwitch = h("div", { class: "segmented", role: "group", "aria-label": "How to show the overlays" }, buttons);
  const element = h(
    "div",
    { class: "container page compare-page" },
    h(
      "div",
      { class: "page-head" },
      h(
        "div",
        { class: "page-title" },
        h(
          "nav",
          { "aria-label": "Breadcrumb", class: "breadcrumb" },
          h("a", { href: "#/" }, "Subjects"),
          h("span", { "aria-hidden": "true" }, " / "),
          h("a", { href: `#/subjects/${subjectId}` }, subject.name),
          h("span", { "aria-hidden": "true" }, " / "),
        ),
        h("h1", { tabindex: "-1" }, visits ? "Compare two visits" : "Compare two photos"),
        h(
          "p",
          { class: "muted" },
          `A: ${formatDate(when(cmp.a))} → B: ${formatDate(when(cmp.b))} · ${days < 0 ? "B is earlier, " : ""}${formatDuration(days)}${Math.round(Math.abs(days)) ? " apart" : ""}`,
        ),
      ),
      h(
        "div",
        { class: "head-actions" },
        h("a", { class: "btn btn-secondary btn-small", href: `#/subjects/${subjectId}/compare/${bId}/${aId}` }, icon("swap"), "Swap A and B"),
        h(
          "a",
          { class: "btn btn-secondary btn-small", href: `#/subjects/${subjectId}`, title: `Back to ${subject.name}` },
          icon("back"),
          h("span", { class: "btn-name" }, `Back to ${subject.name}`),
        ),
      ),
    ),
    cmp.warnings.length ? h("div", { class: "warnings" }, cmp.warnings.map((w) => noteAlert(WARNINGS[w] || w, { tone: "warn" }))) : null,
    h(
      "div",
      { class: "compare-layout" },
      h(
        "section",
        { class: "card compare-overlays", "aria-labelledby": "overlays-title" },
        h("div", { class: "section-head" }, h("h2", { id: "overlays-title" }, "Overlays"), viewSwitch),
        h("p", { class: "hint" }, "Same scale, ankle at the same place: lines that move between A and B moved in the photos."),
        views,
      ),
      h(
        "section",
        { class: "card compare-diff", "aria-labelledby": "diff-title" },
        h("h2", { id: "diff-title" }, "Differences"),
        summary(cmp),
        h("div", { class: "table-scroll" }, differencesTable(cmp)),
        h(
          "p",
          { class: "hint" },
          "Noise is the smallest change of a measure that re-taking the photos cannot produce (minimal detectable change), for the medians compared. It is the subject's personal band where at least 3 visits of 2 or more shots measure it, never below the software floor from the rules. Within noise means: not a change you can rely on.",
        ),
      ),
    ),
  );
  return { element, title: `Compare · ${subject.name}` };
}
