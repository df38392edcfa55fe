// The trends section of a subject's page: the overall score and one chart per measure against its
// noise band, standing and lunge photos apart. One point per visit (the median of its shots, with their
// spread as a bar); each band says where it comes from (the subject's own visits or the rules).

import { get } from "../../api.js";
import { mountChart, trendChart, trendFit } from "../../charts.js";
import { programmePeriods } from "../../periods.js";
import { DAY_MS, formatDate, formatDayMonth, formatDuration, formatTime, h, icon } from "../../dom.js";
import { AREAS, formatChange, formatMeasure, formatNoise, KEY_TRENDS, MEASURES, WARNINGS } from "../../labels.js";
import { emptyState, estimateTag, noteAlert } from "../../ui.js";
import { photoCount } from "../subjects.js";

/** Both series of the subject's trends: standing and lunge photos are never mixed. */
export async function loadTrends(subjectId) {
  const [standing, lunge] = await Promise.all([
    get(`/subjects/${subjectId}/trends`, { mode: "standing", by: "visit" }),
    get(`/subjects/${subjectId}/trends`, { mode: "lunge", by: "visit" }),
  ]);
  return { standing, lunge };
}

/** The latest value and, when it is not the last point's (the last visit did not measure it), its date. */
export function latestText(name, m, times, format = (v) => formatMeasure(name, v)) {
  let i = m.values.length - 1;
  while (i >= 0 && (m.values[i] === null || m.values[i] === undefined)) i--;
  if (i < 0) return null;
  const value = format(m.values[i]);
  const at = m.latest_at ? new Date(m.latest_at) : times[i];
  if (i === m.values.length - 1) return { value, dated: null };
  // On the last point's day, the time tells it apart from the last point.
  const last = times[times.length - 1];
  const sameDay = formatDate(at) === formatDate(last);
  const dated = sameDay && formatTime(at) ? `${formatDayMonth(at)}, ${formatTime(at)}` : formatDayMonth(at);
  return { value, dated };
}

/** Area names in words, as a list: "pelvic tilt, ankle and knee, alignment" (a label may hold "and"). */
export function areaList(areas) {
  return (areas || []).map((a) => (AREAS[a] ? AREAS[a].label : a).toLowerCase()).join(", ");
}

/** The overall score's like-for-like note: over which areas, and which visits are left out and why. */
function overallNote(m, times) {
  if (!m.areas || !m.areas_missing) return null;
  const left = m.areas_missing.map((missing, i) => ({ missing, i })).filter((x) => x.missing.length);
  const rescored = (m.values_as_scored || []).filter((v, i) => v !== null && m.values[i] !== null && v !== m.values[i]).length;
  if (!left.length && !rescored) return null;
  const parts = [`Scored like for like: every point is the overall over the same areas (${areaList(m.areas)}).`];
  if (left.length) {
    const which = left.map((x) => `${formatDate(times[x.i])} (not scored: ${areaList(x.missing)})`).join("; ");
    parts.push(`Left out, as not comparable: ${which}.`);
  }
  if (rescored) parts.push(`${rescored} ${rescored === 1 ? "point scored more areas and is" : "points scored more areas and are"} re-scored over these.`);
  return parts.join(" ");
}

/**
 * Where a measure's noise band comes from, in words: the subject's own visits or the rules; `short`
 * leaves out why the rules' floor applied.
 */
export function bandSource(m, { short = false } = {}) {
  const visits = m.noise_visits || 0;
  if (m.noise_source === "personal") return `personal band from ${visits} ${visits === 1 ? "visit" : "visits"}`;
  if (short) return "software floor from the rules";
  if (visits >= 3) return `software floor from the rules (the personal band from ${visits} visits is narrower)`;
  return "software floor from the rules (a personal band needs 3 visits of 2 or more shots)";
}

function trendCaption(name, m, times) {
  const present = times.filter((_, i) => m.values[i] !== null && m.values[i] !== undefined);
  if (m.n === 0) return { tone: "none", text: "Not measured in these photos." };
  if (m.n > 1 && (m.days || 0) < 2) {
    return {
      tone: "none",
      text: `All ${m.n} visits with a value fall within one day: they count as one point (their median), and a trend needs visits on two separate days. The band (${formatNoise(name, m.noise)}) shows how far another day has to move to count as a change.`,
    };
  }
  if (m.n === 1 || m.change === null || m.change === undefined) {
    return {
      tone: "none",
      text: `One visit so far: the band (${formatNoise(name, m.noise)}) shows how far the next visit has to move to count as a change.`,
    };
  }
  const days = m.span_days ?? (present[present.length - 1] - present[0]) / DAY_MS;
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

function trendCard(name, m, times, shots, { big = false } = {}) {
  const meta = MEASURES[name] || { label: name };
  const caption = trendCaption(name, m, times);
  const latest = latestText(name, m, times);
  const note = name === "overall_score" ? overallNote(m, times) : null;
  const box = h("div", { class: "chart-box", style: `height:${big ? 220 : 170}px` });
  const card = h(
    "figure",
    { class: `trend-card${big ? " trend-card-big" : ""}`, "data-measure": name },
    h(
      "div",
      { class: "trend-head" },
      h("h3", {}, meta.label, meta.estimate ? estimateTag() : null),
      latest !== null
        ? h(
            "span",
            { class: "trend-latest", "data-dated": latest.dated ? "true" : "false" },
            h("span", { class: "muted" }, "latest "),
            latest.value,
            latest.dated ? h("span", { class: "muted", title: "The last visit did not measure it: this is the latest value, from then." }, ` · ${latest.dated}`) : null,
          )
        : null,
    ),
    box,
    h("figcaption", { class: `trend-caption tone-${caption.tone}` }, icon(caption.tone === "beyond" ? "arrow" : caption.tone === "within" ? "equal" : "info"), h("span", {}, caption.text)),
    note ? h("p", { class: "trend-areas muted small" }, note) : null,
    h("p", { class: "trend-band muted small", "data-source": m.noise_source }, `Noise band ${formatNoise(name, m.noise)}: ${bandSource(m)}.`),
  );
  const spec = {
    times,
    ...trendFit(m),
    height: big ? 220 : 170,
    label: meta.label,
    format: (v) => formatMeasure(name, v),
    noiseText: formatNoise(name, m.noise),
    spread: m.spread || null,
    shots,
    bounds: name === "overall_score" ? [0, 100] : name === "heel_lift" ? [0, 1] : null,
    zeroLine: Boolean(meta.signed),
    ariaLabel: `${meta.label} over time, ${m.n} ${m.n === 1 ? "visit" : "visits"}. ${caption.text}`,
    periods: programmePeriods(),
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
  const shots = trends.shots || null;
  const overall = trendCard("overall_score", trends.measures.overall_score, times, shots, { big: true });
  mounts.push(overall.mount);
  const available = Object.keys(trends.measures).filter((name) => name !== "overall_score" && trends.measures[name].n > 0);
  const key = KEY_TRENDS.filter((name) => available.includes(name));
  const more = available.filter((name) => !KEY_TRENDS.includes(name));
  const keyCards = key.map((name) => trendCard(name, trends.measures[name], times, shots));
  const moreCards = more.map((name) => trendCard(name, trends.measures[name], times, shots));
  mounts.push(...keyCards.map((c) => c.mount), ...moreCards.map((c) => c.mount));
  const first = times[0];
  const last = times[times.length - 1];
  const visits = `${trends.n} ${trends.n === 1 ? "visit" : "visits"} (${photoCount(trends.n_analyses)})`;
  const summary =
    trends.n === 1
      ? `${visits}, ${formatDate(first)}. Add another visit to see a trend.`
      : `${visits} from ${formatDate(first)} to ${formatDate(last)} (${formatDuration((last - first) / DAY_MS)}).`;
  const element = h(
    "div",
    { class: "trends-body" },
    h("p", { class: "muted trends-summary" }, summary),
    h(
      "ul",
      { class: "chart-legend", "aria-label": "How to read the charts" },
      h("li", {}, h("span", { class: "swatch swatch-band", "aria-hidden": "true" }), "Noise band: a change that stays inside it is within retake noise, not progress"),
      h("li", {}, h("span", { class: "swatch swatch-fit", "aria-hidden": "true" }), "Trend line (robust fit)"),
      h("li", {}, h("span", { class: "swatch swatch-pt", "aria-hidden": "true" }), "One visit: the median of its shots"),
      h("li", {}, h("span", { class: "swatch swatch-spread", "aria-hidden": "true" }), "Spread of the visit's shots (max − min)"),
    ),
    trends.warnings && trends.warnings.length ? h("div", { class: "warnings" }, trends.warnings.map((w) => noteAlert(WARNINGS[w] || w, { tone: "warn" }))) : null,
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

/**
 * Fill the trends section `box` with the series of `mode` ("standing" or "lunge"). When the subject has
 * both kinds of photo, a switch chooses between them and calls `onMode(mode)`.
 */
export function showTrends(box, trends, mode, onMode) {
  const { standing, lunge } = trends;
  const both = standing.n > 0 && lunge.n > 0;
  const content = trendsContent(trends[mode]);
  const modeSwitch = both
    ? h(
        "div",
        { class: "segmented", role: "group", "aria-label": "Which photos" },
        ["standing", "lunge"].map((choice) =>
          h(
            "button",
            { type: "button", "aria-pressed": String(mode === choice), onclick: () => onMode(choice) },
            choice === "standing" ? `Standing (${standing.n_analyses})` : `Lunge (${lunge.n_analyses})`,
          ),
        ),
      )
    : null;
  box.replaceChildren(
    h("div", { class: "section-head" }, h("div", {}, h("h2", { id: "trends-title" }, "Trends"), h("p", { class: "muted small" }, "Each measure over time, one point per visit, with the band of change that retakes cannot tell from noise.")), modeSwitch),
    content.element,
  );
  content.mount();
}
