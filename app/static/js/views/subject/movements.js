// The movement tests of a subject's page: upload a side-on squat or knee-to-wall lunge clip, follow its
// job (the upload, then the analysis with the server's progress), see the deepest frame, the curve of
// the shin angle over the reps, the headline numbers, and the trend of the peak shin angle beside the
// standing pelvic tilt. The API's words for a clip it cannot use are shown as they are.

import { get, imageUrl, request, uploadClip } from "../../api.js";
import { mountChart, sharedRange, trendChart, trendFit } from "../../charts.js";
import { programmePeriods } from "../../periods.js";
import { formatDate, formatDuration, h, icon, plain, s, signed, todayIso } from "../../dom.js";
import { JOB_ERROR_TITLES, MEASURES, MOVEMENT_MEASURES, MOVEMENT_SERIES, MOVEMENT_TESTS, WARNINGS } from "../../labels.js";
import { confirmDialog, emptyState, errorAlert, estimateTag, noteAlert, spinner, toast } from "../../ui.js";

const ACCEPT = "video/mp4,video/quicktime,video/webm,.mp4,.m4v,.mov,.webm";
const POLL_MS = 500;

function movementValue(name, value) {
  if (value === null || value === undefined) return "\u2014";
  const meta = MOVEMENT_MEASURES[name] || { unit: "", decimals: 1 };
  const number = meta.signed ? signed(value, meta.decimals) : plain(value, meta.decimals);
  return number + (meta.unit === "%" ? "\u202f%" : meta.unit);
}

// A number outside what the test can give (`withheld` in the result, warning `measure_implausible`): the
// page shows it, as every other form of the result does, but says it was not scored.
const NOT_SCORED = "not scored";
const NOT_SCORED_WHY = "Outside what this test can give, so it was not scored, no finding was drawn from it and the trend leaves it out. The notes below say why.";
const NOT_SCORED_DIFFERENCE = "A side's peak is outside what this test can give, so the difference says nothing: not scored, and the trend leaves it out.";

/**
 * The measures of a stored movement shown but not scored that have a number to mark (none in results
 * stored before `withheld` existed): the asymmetry is withheld with an implausible side even when absent.
 */
function withheldOf(movement) {
  const names = (movement.analysis || {}).withheld;
  const measures = movement.measures || {};
  return new Set((Array.isArray(names) ? names : []).filter((n) => measures[n] !== null && measures[n] !== undefined));
}

function notScoredWhy(name) {
  return name === "lunge_asymmetry_deg" ? NOT_SCORED_DIFFERENCE : NOT_SCORED_WHY;
}

/**
 * A clip's failed job. It says nothing was stored: on a phone the refusal sits right above the result of
 * an earlier clip, which read as this clip's result.
 */
function jobError(job, { earlier = false } = {}) {
  const error = job.error || { code: "analysis_failed", message: "The analysis failed." };
  const clip = job.source ? `“${job.source}”` : "this clip";
  const note = `Nothing was stored from ${clip}.${earlier ? " The result below is from an earlier clip." : ""}`;
  return errorAlert(error, { title: JOB_ERROR_TITLES[error.code], note });
}

/**
 * The curve of one per-frame series over the clip's time, with each rep's bottom (a numbered dot on the
 * curve and a line) and the deepest frame, the frames whose front heel was up (a red tick on the time
 * axis each: they do not count for the lunge's peak), and each rep's quoted peak (a hollow diamond at
 * `{t, v, rep}`: the frame the peak is centred on and the rep's number, which is a mean of that frame and
 * its counted neighbours, so it can sit a little off the curve).
 */
function seriesChart({ times, values, bottoms, deepest, heelUp = [], peaks = [], label, unit }, width) {
  const height = 200;
  const margin = { left: 46, right: 16, top: 14, bottom: 30 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const points = times.map((t, i) => ({ t, v: values[i] })).filter((p) => p.v !== null && p.v !== undefined);
  const svg = s("svg", { class: "chart series-chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${label} over the clip` });
  if (!points.length) return svg;
  const t1 = Math.max(times[times.length - 1], 0.1);
  let lo = Math.min(...points.map((p) => p.v), ...peaks.map((p) => p.v));
  let hi = Math.max(...points.map((p) => p.v), ...peaks.map((p) => p.v));
  if (hi - lo < 10) [lo, hi] = [(lo + hi) / 2 - 5, (lo + hi) / 2 + 5];
  const step = hi - lo > 60 ? 20 : hi - lo > 25 ? 10 : 5;
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const x = (t) => margin.left + (t / t1) * plotW;
  const y = (v) => margin.top + (1 - (v - lo) / (hi - lo)) * plotH;
  const grid = s("g", { class: "grid" });
  for (let v = lo; v <= hi + 1e-9; v += step) {
    grid.append(s("line", { x1: margin.left, x2: margin.left + plotW, y1: y(v), y2: y(v) }));
    grid.append(s("text", { class: "tick", x: margin.left - 8, y: y(v), "text-anchor": "end", "dominant-baseline": "middle" }, `${String(v).replace("-", "\u2212")}${unit}`));
  }
  const seconds = t1 > 12 ? 5 : t1 > 5 ? 2 : 1;
  for (let t = 0; t <= t1 + 1e-9; t += seconds) {
    grid.append(s("text", { class: "tick", x: x(t), y: height - 8, "text-anchor": "middle" }, `${t} s`));
  }
  svg.append(grid);
  const marks = s("g", { class: "rep-marks" });
  for (const b of bottoms) marks.append(s("line", { class: "rep-bottom", x1: x(b), x2: x(b), y1: margin.top, y2: margin.top + plotH }, s("title", {}, `Rep bottom at ${b.toFixed(2)} s`)));
  for (const t of heelUp) marks.append(s("line", { class: "heel-up", x1: x(t), x2: x(t), y1: margin.top + plotH - 8, y2: margin.top + plotH }, s("title", {}, `Front heel up at ${t.toFixed(2)} s`)));
  if (deepest !== null && deepest !== undefined) {
    marks.append(s("line", { class: "deepest", x1: x(deepest), x2: x(deepest), y1: margin.top, y2: margin.top + plotH }, s("title", {}, `Deepest frame at ${deepest.toFixed(2)} s`)));
  }
  svg.append(marks);
  // a gap where frames could not be measured, not a line across it
  let d = "";
  let pen = false;
  times.forEach((t, i) => {
    const v = values[i];
    if (v === null || v === undefined) {
      pen = false;
      return;
    }
    d += `${pen ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  svg.append(s("path", { class: "series", d }));
  // each rep's bottom on the curve, numbered, so it reads as a rep and not as a grid line
  bottoms.forEach((b, k) => {
    const i = times.findIndex((t) => Math.abs(t - b) < 1e-6);
    const v = i >= 0 ? values[i] : null;
    if (v === null || v === undefined) return;
    const dot = s("g", { class: "rep-dot" }, s("circle", { cx: x(b), cy: y(v), r: 4 }), s("text", { x: x(b) + 7, y: Math.max(y(v) - 6, margin.top + 4), "text-anchor": "start" }, String(k + 1)));
    dot.append(s("title", {}, `Rep ${k + 1} bottom at ${b.toFixed(2)} s`));
    svg.append(dot);
  });
  // Drawn after the dots and hollow: where the peak is the bottom (a squat) the diamond rings the dot.
  const r = 6;
  for (const p of peaks) {
    const cx = x(p.t);
    const cy = y(p.v);
    const mark = s("path", { class: "rep-peak", "data-rep": p.rep, d: `M${cx.toFixed(1)},${(cy - r).toFixed(1)}l${r},${r}l${-r},${r}l${-r},${-r}z` });
    mark.append(s("title", {}, `Rep ${p.rep}: the peak it quotes, ${signed(p.v, 1)}${unit}, at ${p.t.toFixed(2)} s${p.heelDown ? " (heel down)" : ""}`));
    svg.append(mark);
  }
  return svg;
}

function movementView(movement, { onDelete }) {
  const a = movement.analysis || {};
  const test = MOVEMENT_TESTS[movement.test] || { label: movement.test };
  const names = Object.keys(MOVEMENT_MEASURES).filter((n) => n in movement.measures);
  const withheld = withheldOf(movement);
  const figure = h("figure", { class: "movement-deepest" });
  if (movement.has_deepest_frame) {
    const img = h("img", { id: "movement-deepest", class: "overlay-img", alt: `The deepest frame of the ${test.label.toLowerCase()}, annotated` });
    imageUrl(`/movements/${movement.id}/deepest.png`).then((url) => (img.src = url)).catch(() => figure.replaceChildren(noteAlert("The image of the deepest frame could not be loaded.", { tone: "warn" })));
    const at = a.deepest_frame ? ` at ${a.deepest_frame.time_s.toFixed(2)} s` : "";
    figure.append(img, h("figcaption", { class: "muted small" }, `Deepest point${at}`));
  } else {
    figure.append(h("p", { class: "muted" }, "No image of the deepest frame was kept."));
  }
  const table = h(
    "dl",
    { class: "movement-measures", id: "movement-measures" },
    names.map((name) => {
      const meta = MOVEMENT_MEASURES[name];
      const notScored = withheld.has(name);
      return h(
        "div",
        { class: `movement-measure${notScored ? " is-withheld" : ""}`, "data-measure": name, "data-withheld": notScored ? "true" : null },
        h("dt", {}, meta.label, meta.estimate ? estimateTag() : null),
        h(
          "dd",
          {},
          h(
            "span",
            { class: "m-value", title: notScored ? notScoredWhy(name) : null },
            movementValue(name, movement.measures[name]),
            notScored ? h("span", { class: "m-withheld" }, NOT_SCORED) : null,
          ),
          h("span", { class: "m-hint" }, meta.hint),
        ),
      );
    }),
  );
  // The title is out of reach on a phone: the reason is said once, under the numbers.
  const notScoredNote = withheld.size
    ? h(
        "p",
        { class: "muted small movement-not-scored", id: "movement-not-scored" },
        h("span", { class: "m-withheld" }, NOT_SCORED),
        " ",
        withheld.size === 1 ? notScoredWhy([...withheld][0]) : NOT_SCORED_WHY,
      )
    : null;
  const series = a.series || {};
  const chartBox = h("div", { class: "chart-box", id: "movement-curve", style: "height:200px" });
  const hasCurve = Array.isArray(series.time_s) && Array.isArray(series.shin_deg);
  // Each rep's quoted shin peak where it was taken (results stored before `peak_s` have none).
  const lunge = movement.test === "lunge";
  const peaks = (a.reps || [])
    .map((r, k) => ({ t: r.peak_s, v: (r.measures || {})[test.headline], rep: k + 1, heelDown: lunge }))
    .filter((p) => typeof p.t === "number" && typeof p.v === "number");
  const caption = [
    "Shin from vertical, each sampled frame. Numbered dots: each rep's bottom (the hip's lowest frame)",
    peaks.length ? `; diamonds: the peak each rep quotes${lunge ? ", with the heel down" : ""}` : "",
    "; dashed line: the frame drawn above",
    lunge ? "; red ticks: frames with the front heel up (not counted in the peak)." : ".",
  ].join("");
  const spec = hasCurve
    ? {
        times: series.time_s,
        values: series.shin_deg,
        bottoms: (a.reps || []).map((r) => r.bottom_s),
        heelUp: (a.reps || []).flatMap((r) => (r.heel_lifted_frames || []).map((i) => series.time_s[i])).filter((t) => typeof t === "number"),
        deepest: a.deepest_frame ? a.deepest_frame.time_s : null,
        peaks,
        label: MOVEMENT_SERIES.shin_deg.label,
        unit: "°",
      }
    : null;
  const warnings = (a.warnings || []).map((w) => noteAlert(WARNINGS[w] || w, { tone: "warn" }));
  const failed = (a.failed_frames || []).length;
  const remove = h("button", { type: "button", class: "btn btn-secondary btn-small btn-danger-text", id: "movement-delete" }, icon("trash"), "Delete");
  remove.addEventListener("click", () => onDelete(movement));
  const element = h(
    "article",
    { class: "movement-view", "data-movement": movement.id, "data-test": movement.test },
    h(
      "div",
      { class: "section-head" },
      h("h3", { id: "movement-title" }, `${test.label} · ${formatDate(movement.taken_at)}`),
      h("span", { class: "muted", id: "movement-reps" }, `${movement.reps} ${movement.reps === 1 ? "rep" : "reps"}`),
      remove,
    ),
    h(
      "div",
      { class: "movement-body" },
      figure,
      h(
        "div",
        { class: "movement-numbers" },
        table,
        notScoredNote,
        hasCurve ? h("figure", { class: "movement-curve" }, h("h4", {}, "Shin angle over the clip"), chartBox, h("figcaption", { class: "muted small", id: "movement-curve-caption" }, caption)) : null,
      ),
    ),
    warnings.length ? h("div", { class: "warnings" }, warnings) : null,
    failed ? h("p", { class: "muted small", id: "movement-failed" }, `${failed} ${failed === 1 ? "frame" : "frames"} could not be measured (named in the result).`) : null,
    (a.findings || []).length ? h("ul", { class: "movement-findings" }, a.findings.map((f) => h("li", {}, f))) : null,
  );
  return { element, mount: () => spec && mountChart(chartBox, (width) => seriesChart(spec, width)) };
}

function trendView(trends) {
  const test = MOVEMENT_TESTS[trends.test];
  const name = test.headline;
  const m = trends.measures[name];
  const anyShown = m && (m.values || []).some((v) => v !== null && v !== undefined);
  if (!m || (m.n === 0 && !anyShown)) return { element: h("p", { class: "muted" }, `No ${test.label.toLowerCase()} measured yet.`), mount: () => {} };
  const meta = MOVEMENT_MEASURES[name];
  const times = trends.taken_at.map((t) => new Date(t));
  const box = h("div", { class: "chart-box", style: "height:190px" });
  const mounts = [];
  const noiseText = m.noise ? `±${plain(m.noise, 1)}°` : "unknown";
  // The movement and the standing charts beside it share one date range, so a week is as wide in each.
  const standingSeries = (trends.standing || []).filter((st) => st.values.some((v) => v !== null));
  const xRange = sharedRange(times, ...standingSeries.map((st) => st.taken_at.map((t) => new Date(t))));
  // Values withheld as implausible are drawn hollow, off the line; the server left them out of the fit.
  const withheld = Array.isArray(m.withheld) ? m.withheld : [];
  const nWithheld = withheld.filter(Boolean).length;
  const spec = {
    times,
    xRange,
    ...trendFit(m),
    withheld,
    height: 190,
    label: meta.label,
    format: (v) => movementValue(name, v),
    noiseText,
    ariaLabel: `${meta.label} of the ${test.label.toLowerCase()} over time, ${m.n} ${m.n === 1 ? "clip" : "clips"}${nWithheld ? `, ${nWithheld} not scored` : ""}`,
    periods: programmePeriods(),
  };
  mounts.push(() => mountChart(box, (width) => trendChart(spec, width)));
  const change =
    m.n === 0
      ? "No scored clip yet: the trend starts with the first number inside what the test can give."
      : m.n > 1 && (m.days || 0) < 2
      ? `All ${m.n} clips fall within one day: they count as one point (their median), and a trend needs clips on two separate days.`
      : m.change === null || m.change === undefined
        ? "One clip so far: the next one shows a trend."
        : `${signed(m.change, 1)}° over ${formatDuration(m.span_days)} on the trend line (${m.beyond_noise ? "beyond" : "within"} the noise of ${noiseText}).`;
  const cards = [
    h(
      "figure",
      { class: "trend-card", "data-measure": name },
      h("div", { class: "trend-head" }, h("h4", {}, `${meta.label}, ${test.label.toLowerCase()}`)),
      box,
      h("figcaption", { class: "trend-caption" }, change),
      nWithheld
        ? h(
            "p",
            { class: "trend-caption muted small trend-withheld", title: NOT_SCORED_WHY },
            h("span", { class: "legend-hollow", "aria-hidden": "true" }),
            `${nWithheld === 1 ? "1 clip’s value" : `${nWithheld} clips’ values`} outside what the test can give: drawn hollow, not scored, left out of the line and the trend.`,
          )
        : null,
    ),
  ];
  for (const standing of standingSeries) {
    const label = (MEASURES[standing.measure] || { label: standing.measure }).label;
    const sbox = h("div", { class: "chart-box", style: "height:190px" });
    const sspec = {
      times: standing.taken_at.map((t) => new Date(t)),
      xRange,
      ...trendFit(standing),
      height: 190,
      label,
      format: (v) => `${signed(v, 1)}°`,
      noiseText: standing.noise ? `±${plain(standing.noise, 1)}°` : "",
      zeroLine: true,
      ariaLabel: `${label} of the standing photos over the same time`,
    };
    mounts.push(() => mountChart(sbox, (width) => trendChart(sspec, width)));
    cards.push(
      h(
        "figure",
        { class: "trend-card", "data-measure": standing.measure },
        h("div", { class: "trend-head" }, h("h4", {}, `${label}, standing`, estimateTag())),
        sbox,
        h("figcaption", { class: "trend-caption muted" }, "The standing photos over the same weeks: read the two together as an association, not a cause."),
      ),
    );
  }
  return { element: h("div", { class: "trend-grid movement-trend-grid" }, cards), mount: () => mounts.forEach((f) => f()) };
}

export function movementsSection({ subjectId, showError }) {
  const state = { items: [], selectedId: null, trendTest: "lunge" };
  const fileInput = h("input", { type: "file", id: "clip", name: "clip", accept: ACCEPT, required: true, class: "visually-hidden" });
  // The clip's box is the photo's (upload.js): choose or drop, then its name and size.
  const clipText = h("span", { class: "drop-text" });
  const clipLabel = h("label", { for: "clip", class: "drop drop-clip" }, h("span", { class: "drop-preview", "aria-hidden": "true" }, icon("camera", "icon drop-icon")), clipText);
  const showClip = (file) => {
    clipLabel.classList.toggle("has-file", Boolean(file));
    clipText.replaceChildren(
      ...(file
        ? [h("span", { class: "drop-title file-name" }, file.name), h("span", { class: "muted small" }, `${(file.size / 1024 / 1024).toFixed(1)} MB · choose another`)]
        : [h("span", { class: "drop-title" }, "Choose a clip"), h("span", { class: "muted small" }, "or drop it here · MP4, MOV or WebM, up to 30 s")]),
    );
  };
  showClip(null);
  fileInput.addEventListener("change", () => showClip(fileInput.files[0]));
  for (const type of ["dragenter", "dragover"]) {
    clipLabel.addEventListener(type, (event) => {
      event.preventDefault();
      clipLabel.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) clipLabel.addEventListener(type, () => clipLabel.classList.remove("dragging"));
  clipLabel.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      fileInput.files = event.dataTransfer.files;
      showClip(fileInput.files[0]);
    }
  });
  const test = h("select", { id: "movement-test", name: "test" }, h("option", { value: "lunge" }, "Knee-to-wall lunge"), h("option", { value: "squat" }, "Squat"));
  const facing = h("select", { id: "movement-facing", name: "facing" }, h("option", { value: "" }, "Auto-detect"), h("option", { value: "left" }, "Facing left"), h("option", { value: "right" }, "Facing right"));
  const roll = h("input", { type: "number", id: "movement-roll", name: "camera_roll_deg", min: -45, max: 45, step: 0.1, inputmode: "decimal", placeholder: "0" });
  const date = h("input", { type: "date", id: "movement-date", name: "taken_at", max: todayIso() });
  const mirror = h("input", { type: "checkbox", id: "movement-mirror", name: "mirror_pass" });
  const submit = h("button", { type: "submit", class: "btn btn-primary", id: "movement-upload" }, icon("upload"), "Analyse clip");
  const bar = h("progress", { id: "movement-progress", max: 100, value: 0, "aria-labelledby": "movement-status" });
  const statusText = h("span", { id: "movement-status" }, "");
  const progress = h("div", { class: "progress movement-progress", hidden: true }, bar, statusText);
  const message = h("div", { class: "movement-message", "aria-live": "polite" });
  const resultBox = h("div", { class: "movement-result", id: "movement-result" });
  const listBox = h("div", { class: "movement-list" });
  const trendBox = h("div", { class: "movement-trend", id: "movement-trend" });
  const trendSwitch = h("div", { class: "segmented", role: "group", "aria-label": "Which test" });

  const setBusy = (busy) => {
    for (const el of [fileInput, test, facing, roll, date, mirror, submit]) el.disabled = busy;
    progress.hidden = !busy;
  };
  const setProgress = (fraction, text) => {
    bar.value = Math.round(fraction * 100);
    statusText.textContent = text;
  };

  const pollJob = async (jobId) => {
    for (;;) {
      const job = await get(`/jobs/${jobId}`);
      if (job.status === "done" || job.status === "failed") return job;
      setProgress(job.progress, job.status === "queued" ? "Waiting for a worker…" : `Analysing… ${Math.round(job.progress * 100)} %`);
      if (!element.isConnected) return job; // the page was left: stop polling
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };

  const form = h(
    "form",
    {
      class: "movement-form",
      id: "movement-form",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        const file = fileInput.files[0];
        if (!file) {
          message.replaceChildren(errorAlert({ code: "no_clip", message: "Choose a clip first." }, { title: "No clip chosen" }));
          fileInput.focus();
          return;
        }
        const data = new FormData();
        data.append("clip", file, file.name);
        data.append("test", test.value);
        if (facing.value) data.append("facing", facing.value);
        if (roll.value !== "") data.append("camera_roll_deg", roll.value);
        if (date.value) data.append("taken_at", date.value);
        if (mirror.checked) data.append("mirror_pass", "true");
        message.replaceChildren();
        setBusy(true);
        setProgress(0, "Uploading…");
        try {
          const upload = uploadClip(subjectId, data, { onProgress: (f) => setProgress(f * 0.1, `Uploading… ${Math.round(f * 100)} %`) });
          const { job } = await upload.promise;
          setProgress(0, "Waiting for a worker…");
          const ended = await pollJob(job.id);
          if (ended.status === "failed") {
            message.replaceChildren(jobError(ended, { earlier: state.items.length > 0 }));
            return;
          }
          if (ended.status !== "done") return;
          setProgress(1, "Done");
          state.selectedId = ended.movement_id;
          state.trendTest = job.test;
          toast("Clip analysed.");
          form.reset();
          showClip(null);
          await refresh();
        } catch (error) {
          message.replaceChildren(errorAlert(error));
        } finally {
          setBusy(false);
        }
      },
    },
    h("div", { class: "field-clip" }, fileInput, clipLabel, h("p", { class: "hint" }, "Side on, the whole body in the picture.")),
    h("div", { class: "field" }, h("label", { for: "movement-test" }, "Test"), test),
    h("div", { class: "field" }, h("label", { for: "movement-facing" }, "Facing"), facing),
    h("div", { class: "field" }, h("label", { for: "movement-roll" }, "Camera roll (°)"), roll),
    h("div", { class: "field" }, h("label", { for: "movement-date" }, "Date filmed"), date),
    h(
      "div",
      { class: "field field-check" },
      h("label", { for: "movement-mirror" }, mirror, " Mirror pass"),
      h("p", { class: "hint" }, "Steadier numbers, about twice the analysis time."),
    ),
    h("div", { class: "upload-actions" }, submit, progress),
  );

  const onDelete = async (movement) => {
    const ok = await confirmDialog({ title: "Delete this movement?", message: "Its clip, deepest frame and numbers are removed for good." });
    if (!ok) return;
    try {
      await request("DELETE", `/movements/${movement.id}`);
      state.selectedId = null;
      toast("Movement deleted.");
      await refresh();
    } catch (error) {
      showError(error);
    }
  };

  const renderList = () => {
    listBox.replaceChildren(
      state.items.length
        ? h(
            "ul",
            { class: "movement-items", "aria-label": "Movements" },
            [...state.items].reverse().map((m) => {
              const headline = MOVEMENT_TESTS[m.test].headline;
              const notScored = withheldOf(m).has(headline);
              return h(
                "li",
                {},
                h(
                  "button",
                  {
                    type: "button",
                    class: `btn btn-ghost btn-small${m.id === state.selectedId ? " is-current" : ""}`,
                    "aria-current": m.id === state.selectedId ? "true" : null,
                    "data-movement": m.id,
                    "data-withheld": notScored ? "true" : null,
                    title: notScored ? notScoredWhy(headline) : null,
                    onclick: () => {
                      state.selectedId = m.id;
                      renderList();
                      renderSelected();
                    },
                  },
                  `${(MOVEMENT_TESTS[m.test] || { label: m.test }).label} · ${formatDate(m.taken_at)} · ${movementValue(headline, m.measures[headline])}`,
                  notScored ? h("span", { class: "m-withheld" }, NOT_SCORED) : null,
                ),
              );
            }),
          )
        : emptyState({ title: "No movement tests yet", text: "Film a knee-to-wall lunge or a squat from the side and add the clip above: its reps, peak shin angle, heel lift and depth appear here.", art: "figure" }),
    );
  };

  const renderSelected = () => {
    const movement = state.items.find((m) => m.id === state.selectedId);
    if (!movement) {
      resultBox.replaceChildren();
      return;
    }
    const view = movementView(movement, { onDelete });
    resultBox.replaceChildren(view.element);
    view.mount();
  };

  const renderTrend = async () => {
    trendSwitch.replaceChildren(
      ...Object.entries(MOVEMENT_TESTS).map(([key, t]) =>
        h("button", { type: "button", class: "btn btn-small", "aria-pressed": String(key === state.trendTest), onclick: () => { state.trendTest = key; renderTrend(); } }, t.label),
      ),
    );
    trendBox.replaceChildren(spinner());
    try {
      const trends = await get(`/subjects/${subjectId}/movements/trends`, { test: state.trendTest });
      const view = trendView(trends);
      trendBox.replaceChildren(view.element);
      view.mount();
    } catch (error) {
      trendBox.replaceChildren(errorAlert(error));
    }
  };

  const refresh = async () => {
    const page = await get(`/subjects/${subjectId}/movements`, { limit: 500 });
    state.items = page.items;
    // The form is open until there is a movement to show: then the result comes first on the screen.
    addBox.open = state.items.length === 0;
    if (!state.items.some((m) => m.id === state.selectedId)) state.selectedId = state.items.length ? state.items[state.items.length - 1].id : null;
    const selected = state.items.find((m) => m.id === state.selectedId);
    if (selected && !state.items.some((m) => m.test === state.trendTest)) state.trendTest = selected.test;
    renderList();
    renderSelected();
    await renderTrend();
  };

  const addBox = h("details", { class: "movement-add", open: true }, h("summary", {}, icon("upload"), "Add a clip"), form);
  const element = h(
    "section",
    { class: "card movements", id: "movements", "aria-labelledby": "movements-title" },
    h("h2", { id: "movements-title" }, "Movement tests"),
    h("p", { class: "muted" }, "A side-on clip of a knee-to-wall lunge or a bodyweight squat. The peak shin angle is a proxy for ankle dorsiflexion; like every number here it is an estimate from the video, not a diagnosis."),
    addBox,
    message,
    resultBox,
    listBox,
    h("div", { class: "section-head" }, h("h3", {}, "Trend"), trendSwitch),
    trendBox,
  );
  // A clip recorded in the capture view (capture_clip.js) shows here as an uploaded one does.
  const onRecorded = (event) => {
    if (!element.isConnected) {
      window.removeEventListener("posture:movement-added", onRecorded);
      return;
    }
    state.selectedId = event.detail.id;
    state.trendTest = event.detail.test;
    refresh().catch(showError);
  };
  window.addEventListener("posture:movement-added", onRecorded);
  return { element, refresh };
}
