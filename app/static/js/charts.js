// Hand-written SVG charts: the trend of one measure over time with its noise band, and the score ring.
//
// The noise band is the API's: `noise` (the measure's minimal detectable change) on each side of the
// robust (per-day pooled Theil–Sen) fit at its start, `fit_start`. The fitted line ends outside the band
// exactly when the API calls the change `beyond_noise` (|fit_end − fit_start| ≥ noise), so a change that
// stays inside the shading is not progress. The line is drawn between the API's own ends
// (`fit_start_at` … `fit_end_at`, the first and last day with a value), and the API keeps both ends
// within the points' range, so the y-axis is the points, the band and nothing else; it never zooms in
// below 5 × noise, so photo-to-photo noise cannot be blown up to look like a trend.

import { DAY_MS, formatDate, formatDayMonth, formatMonthYear, s } from "./dom.js";
import { periodShading } from "./periods.js";

const MIN_SPAN_IN_NOISE = 5;

// One observer for every chart on the page: a chart redraws when its box changes width (phone
// rotation, a <details> opening). `resetCharts()` forgets the charts of the previous view.
const drawers = new Map();
const observer = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const draw = drawers.get(entry.target);
    if (draw) draw();
  }
});

export function resetCharts() {
  for (const element of drawers.keys()) observer.unobserve(element);
  drawers.clear();
}

/** Draw `build(width)` into `container` now and whenever its width changes. */
export function mountChart(container, build) {
  let drawnWidth = 0;
  const draw = () => {
    const width = Math.floor(container.clientWidth);
    if (width < 40 || Math.abs(width - drawnWidth) < 2) return;
    drawnWidth = width;
    container.replaceChildren(build(width));
  };
  drawers.set(container, draw);
  observer.observe(container);
  draw();
}

function niceStep(span, count) {
  const raw = span / Math.max(count, 1);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 2.5, 5, 10]) {
    if (factor * magnitude >= raw) return factor * magnitude;
  }
  return 10 * magnitude;
}

function decimalsOf(step) {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/** The y-domain: values, band and fit, at least MIN_SPAN_IN_NOISE × noise tall, on nice ticks. */
function yDomain(spec, centre, plotHeight) {
  const ys = spec.values.filter((v) => v !== null && v !== undefined);
  if (centre !== null && spec.noise) ys.push(centre - spec.noise, centre + spec.noise);
  if (spec.fitEnd !== null && spec.fitEnd !== undefined) ys.push(spec.fitEnd);
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  const minSpan = spec.noise ? MIN_SPAN_IN_NOISE * spec.noise : Math.max(1, Math.abs(hi) * 0.2);
  if (hi - lo < minSpan) {
    const mid = (hi + lo) / 2;
    lo = mid - minSpan / 2;
    hi = mid + minSpan / 2;
  }
  if (spec.bounds) {
    const [bLo, bHi] = spec.bounds;
    if (lo < bLo) [lo, hi] = [bLo, Math.min(bHi, hi + (bLo - lo))];
    if (hi > bHi) [lo, hi] = [Math.max(bLo, lo - (hi - bHi)), bHi];
  }
  const step = niceStep(hi - lo, Math.max(2, Math.floor(plotHeight / 38)));
  lo = Math.floor(lo / step + 1e-9) * step;
  hi = Math.ceil(hi / step - 1e-9) * step;
  if (spec.bounds) {
    lo = Math.max(lo, spec.bounds[0]);
    hi = Math.min(hi, spec.bounds[1]);
  }
  const ticks = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-6; v += step) ticks.push(v);
  return { lo, hi, ticks, decimals: decimalsOf(step) };
}

/** x labels: the photos' own dates when they fit (few photos), else evenly spaced dates. */
function timeTicks(times, plotWidth, x) {
  const first = times[0];
  const last = times[times.length - 1];
  const span = last - first;
  if (span < DAY_MS / 2) return [first];
  const minGap = 64;
  if (times.length <= 8) {
    const picked = [];
    for (const t of times) {
      if (picked.length === 0 || x(t) - x(picked[picked.length - 1]) >= minGap) picked.push(t);
    }
    if (picked[picked.length - 1] !== last) {
      if (picked.length > 1 && x(last) - x(picked[picked.length - 1]) < minGap) picked.pop();
      picked.push(last);
    }
    if (picked.length === times.length || picked.length >= 3) return picked;
  }
  const count = Math.max(2, Math.min(5, Math.floor(plotWidth / 92)));
  return Array.from({ length: count }, (_, i) => first + (span * i) / (count - 1));
}

function tickLabel(t, span) {
  return span > 300 * DAY_MS ? formatMonthYear(t) : formatDayMonth(t);
}

/** The part of a trendChart spec that one measure's trend from the API gives (photos or movements). */
export function trendFit(measure) {
  return {
    values: measure.values,
    noise: measure.noise,
    fitStart: measure.fit_start,
    fitEnd: measure.fit_end,
    fitFrom: measure.fit_start_at ? new Date(measure.fit_start_at) : null,
    fitTo: measure.fit_end_at ? new Date(measure.fit_end_at) : null,
    beyond: measure.beyond_noise,
  };
}

/** [first, last] time over several series of times (Date[]): one date range for charts read together. */
export function sharedRange(...series) {
  const all = series.flat().map((t) => +t).filter((t) => Number.isFinite(t));
  return all.length ? [Math.min(...all), Math.max(...all)] : null;
}

// Does the segment (x1,y1)–(x2,y2) cross the box {x, y, w, h} (with a margin)?
function segmentHitsBox(x1, y1, x2, y2, box, pad = 2) {
  const left = box.x - pad;
  const right = box.x + box.w + pad;
  const top = box.y - pad;
  const bottom = box.y + box.h + pad;
  const steps = 24;
  for (let i = 0; i <= steps; i++) {
    const px = x1 + ((x2 - x1) * i) / steps;
    const py = y1 + ((y2 - y1) * i) / steps;
    if (px >= left && px <= right && py >= top && py <= bottom) return true;
  }
  return false;
}

/**
 * The trend of one measure.
 * spec: {times: Date[], values: (number|null)[], noise, fitStart, fitEnd, fitFrom?: Date, fitTo?: Date
 *        (where the line starts and ends; else the first and last time), beyond, height, label,
 *        format(value) → text, noiseText, bounds?: [lo, hi], zeroLine?: bool,
 *        xRange?: [t0, t1] (ms: a date range shared with the charts beside it),
 *        spread?: (number|null)[] and shots?: number[] (one point per visit: its median, the spread of
 *        its shots drawn as a bar of that length centred on it, and how many shots it has),
 *        periods?: [{name, start, end}] (ms: programme periods shaded, periods.js),
 *        withheld?: boolean[] (a value outside what the test can give, not scored: drawn hollow, off
 *        the point-to-point line; the fit given has left it out)}
 */
export function trendChart(spec, width) {
  const height = spec.height || 180;
  const margin = { left: 46, right: 16, top: 14, bottom: 30 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const times = spec.times.map((t) => +t);
  const points = times
    .map((t, i) => ({ t, v: spec.values[i], i, withheld: Boolean(spec.withheld && spec.withheld[i]) }))
    .filter((p) => p.v !== null && p.v !== undefined);
  const scored = points.filter((p) => !p.withheld);
  const hasFit = spec.fitStart !== null && spec.fitStart !== undefined && spec.fitEnd !== null;
  const centre = hasFit ? spec.fitStart : scored.length ? scored[0].v : points.length ? points[0].v : null;

  // x: the photos' time span (or the range shared with the charts beside it), padded so points do not
  // sit on the plot's edge.
  let t0 = spec.xRange ? spec.xRange[0] : times[0];
  let t1 = spec.xRange ? spec.xRange[1] : times[times.length - 1];
  const span = t1 - t0;
  if (span < DAY_MS) {
    t0 -= 3 * DAY_MS;
    t1 += 3 * DAY_MS;
  } else {
    t0 -= span * 0.06;
    t1 += span * 0.06;
  }
  const x = (t) => margin.left + ((t - t0) / (t1 - t0)) * plotW;
  const y0 = yDomain(spec, centre, plotH);
  const y = (v) => margin.top + (1 - (v - y0.lo) / (y0.hi - y0.lo)) * plotH;
  const clampY = (v) => Math.min(margin.top + plotH, Math.max(margin.top, y(v)));

  const svg = s("svg", {
    class: "chart",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": spec.ariaLabel || spec.label,
  });

  // grid and y labels
  const grid = s("g", { class: "grid" });
  for (const tick of y0.ticks) {
    const ty = y(tick);
    grid.append(s("line", { x1: margin.left, x2: margin.left + plotW, y1: ty, y2: ty }));
    grid.append(
      s("text", { class: "tick", x: margin.left - 8, y: ty, "text-anchor": "end", "dominant-baseline": "middle" },
        tick.toFixed(y0.decimals).replace("-", "\u2212")),
    );
  }
  if (spec.zeroLine && y0.lo < 0 && y0.hi > 0) {
    grid.append(s("line", { class: "zero", x1: margin.left, x2: margin.left + plotW, y1: y(0), y2: y(0) }));
  }
  svg.append(grid);
  // programme periods (periods.js), behind everything drawn on the data
  if (spec.periods && spec.periods.length) {
    svg.append(periodShading(spec.periods, x, { left: margin.left, top: margin.top, width: plotW, height: plotH }, t0, t1));
  }

  // x labels at the photos' dates (over a shared range: its ends and the points between)
  const tickTimes = spec.xRange ? [...new Set([spec.xRange[0], ...times, spec.xRange[1]])].sort((a, b) => a - b) : times;
  const xTicks = timeTicks(tickTimes, plotW, x);
  const xAxis = s("g", { class: "x-axis" });
  xTicks.forEach((t, i) => {
    let anchor = "middle";
    if (xTicks.length > 1 && i === 0 && x(t) - margin.left < 30) anchor = "start";
    if (xTicks.length > 1 && i === xTicks.length - 1 && margin.left + plotW - x(t) < 30) anchor = "end";
    xAxis.append(s("text", { class: "tick", x: x(t), y: height - 8, "text-anchor": anchor }, tickLabel(t, span)));
  });
  svg.append(xAxis);

  // the fitted line's ends, in the plot (drawn after the band, but the band's label must avoid it)
  const fitFrom = spec.fitFrom ? +spec.fitFrom : times[0];
  const fitTo = spec.fitTo ? +spec.fitTo : times[times.length - 1];
  const fitLine = hasFit && scored.length > 1 ? { x1: x(fitFrom), y1: y(spec.fitStart), x2: x(fitTo), y2: y(spec.fitEnd) } : null;

  // the noise band around the fit's start (or the only photo)
  if (centre !== null && spec.noise) {
    const top = clampY(centre + spec.noise);
    const bottom = clampY(centre - spec.noise);
    const band = s("g", { class: "band" });
    band.append(s("rect", { x: margin.left, y: top, width: plotW, height: Math.max(0, bottom - top) }));
    band.append(s("line", { x1: margin.left, x2: margin.left + plotW, y1: top, y2: top }));
    band.append(s("line", { x1: margin.left, x2: margin.left + plotW, y1: bottom, y2: bottom }));
    // The label sits just outside the band where there is room, at the right or the left, wherever
    // neither the trend line nor a point lies under it (about 6.6 px a character at the 11 px semibold).
    const text = `noise ${spec.noiseText}`;
    const labelW = text.length * 6.6 + 4;
    const rows = [];
    if (top - margin.top >= 15) rows.push(top - 5);
    if (margin.top + plotH - bottom >= 15) rows.push(bottom + 13);
    rows.push(top + 13, bottom - 4);
    const candidates = [];
    for (const baseline of rows) {
      candidates.push({ x: margin.left + plotW - 4, anchor: "end", baseline });
      candidates.push({ x: margin.left + 4, anchor: "start", baseline });
    }
    const boxOf = (c) => ({ x: c.anchor === "end" ? c.x - labelW : c.x, y: c.baseline - 10, w: labelW, h: 13 });
    const clear = (c) => {
      const b = boxOf(c);
      if (fitLine && segmentHitsBox(fitLine.x1, fitLine.y1, fitLine.x2, fitLine.y2, b)) return false;
      return !points.some((p) => {
        const px = x(p.t);
        const py = y(p.v);
        return px > b.x - 5 && px < b.x + b.w + 5 && py > b.y - 5 && py < b.y + b.h + 5;
      });
    };
    const place = candidates.find(clear) || candidates.find((c) => !fitLine || !segmentHitsBox(fitLine.x1, fitLine.y1, fitLine.x2, fitLine.y2, boxOf(c))) || candidates[0];
    band.append(
      s("text", { class: "band-label", x: place.x, y: place.baseline, "text-anchor": place.anchor }, text),
    );
    svg.append(band);
  }

  // photo-to-photo line, fitted trend, points
  if (scored.length > 1) {
    const d = scored.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join("");
    svg.append(s("path", { class: "series", d }));
  }
  if (fitLine) {
    svg.append(s("line", { class: spec.beyond ? "fit fit-beyond" : "fit", ...fitLine }));
  }
  // each visit's spread: a bar as long as its shots' max − min, centred on its median
  if (spec.spread) {
    const bars = s("g", { class: "spread" });
    for (const p of points) {
      const width = spec.spread[p.i];
      if (width === null || width === undefined || width <= 0) continue;
      bars.append(s("line", { x1: x(p.t), x2: x(p.t), y1: clampY(p.v - width / 2), y2: clampY(p.v + width / 2) }));
    }
    svg.append(bars);
  }
  const dots = s("g", { class: "points" });
  const radius = points.length > 60 ? 2.5 : points.length > 25 ? 3.5 : 4.5;
  const lastScored = scored.length ? scored[scored.length - 1] : null;
  points.forEach((p) => {
    if (p.withheld) {
      dots.append(
        s("circle", { class: "pt pt-withheld", cx: x(p.t), cy: clampY(p.v), r: radius },
          s("title", {}, `${formatDate(p.t)}: ${spec.format(p.v)}, not scored (outside what the test can give; left out of the trend)`)),
      );
      return;
    }
    const last = p === lastScored;
    const shots = spec.shots ? spec.shots[p.i] : 1;
    const width = spec.spread ? spec.spread[p.i] : null;
    const detail =
      shots > 1 ? ` (median of ${shots} shots${width !== null && width !== undefined ? `, spread ${spec.format(width).replace(/^\+/, "")}` : ""})` : "";
    dots.append(
      s("circle", { class: last ? "pt pt-last" : "pt", cx: x(p.t), cy: y(p.v), r: last ? radius + 1 : radius },
        s("title", {}, `${formatDate(p.t)}: ${spec.format(p.v)}${detail}`)),
    );
  });
  svg.append(dots);
  return svg;
}

const BAND_COLOURS = { good: "var(--good-strong)", mild: "var(--mild-strong)", marked: "var(--marked-strong)" };

/** The overall score as a ring (0–100), coloured by band; the number is in the middle. */
export function scoreRing(score, band, size = 120) {
  const stroke = 11;
  const r = (size - stroke) / 2;
  const c = 2 * Math.PI * r;
  const value = Math.max(0, Math.min(100, score ?? 0));
  return s(
    "svg",
    { class: "ring", width: size, height: size, viewBox: `0 0 ${size} ${size}`, "aria-hidden": "true" },
    s("circle", { class: "ring-track", cx: size / 2, cy: size / 2, r, "stroke-width": stroke }),
    s("circle", {
      class: "ring-value",
      cx: size / 2,
      cy: size / 2,
      r,
      "stroke-width": stroke,
      style: `stroke: ${BAND_COLOURS[band] || "var(--muted)"}`,
      "stroke-dasharray": `${(c * value) / 100} ${c}`,
      transform: `rotate(-90 ${size / 2} ${size / 2})`,
    }),
    s("text", { class: "ring-score", x: size / 2, y: size / 2 - 3, "text-anchor": "middle", "dominant-baseline": "middle" },
      score === null || score === undefined ? "\u2013" : String(score)),
    s("text", { class: "ring-of", x: size / 2, y: size / 2 + 22, "text-anchor": "middle" }, "of 100"),
  );
}
