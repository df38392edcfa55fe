// Programme periods on the trend charts: each programme's days shaded behind a chart's points, so a
// change can be read against the work being done. Kept apart from charts.js (one optional `periods`
// entry of a chart spec draws them) and fed by the programmes section of the subject's page.

import { s } from "./dom.js";

const DAY_MS = 86_400_000;
let shown = { subjectId: null, periods: [] }; // one subject's page at a time

/** Remember the programmes of the subject on the page, as periods {name, start, end} (ms, end exclusive). */
export function setProgrammePeriods(subjectId, programmes) {
  const now = Date.now();
  shown = {
    subjectId,
    periods: programmes.map((p) => ({
      name: p.name,
      start: Date.parse(`${p.start_date}T00:00:00Z`),
      // an open-ended programme runs to now; an end day is included whole
      end: p.end_date ? Date.parse(`${p.end_date}T00:00:00Z`) + DAY_MS : now,
    })),
  };
}

/** The periods to shade on the charts of the subject on the page (the subject view resets them). */
export function programmePeriods() {
  return shown.periods;
}

/**
 * The shading, as an SVG group for a chart whose x scale is `x(ms)` over [t0, t1] and whose plot is
 * `plot` = {left, top, width, height}: one band per period clipped to the plot, named by its title.
 */
export function periodShading(periods, x, plot, t0, t1) {
  const group = s("g", { class: "programme-periods" });
  for (const p of periods) {
    const a = Math.max(p.start, t0);
    const b = Math.min(p.end, t1);
    if (b <= a) continue;
    const left = Math.max(plot.left, x(a));
    const right = Math.min(plot.left + plot.width, x(b));
    group.append(
      s("rect", { x: left, y: plot.top, width: Math.max(1, right - left), height: plot.height, "data-programme": p.name }, s("title", {}, `Programme: ${p.name}`)),
    );
    if (right - left > 40) group.append(s("text", { class: "period-label", x: left + 3, y: plot.top + 9 }, p.name));
  }
  return group;
}
