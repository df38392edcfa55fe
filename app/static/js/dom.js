// Small DOM helpers: build elements without innerHTML (every text from the API is set as text),
// and the date and number formats used everywhere on the page.

const SVG_NS = "http://www.w3.org/2000/svg";

function applyProps(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    // through the CSSOM, not a style attribute: allowed by a Content-Security-Policy without 'unsafe-inline'
    else if (key === "style") el.style.cssText = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value" && "value" in el) el.value = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
}

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** An HTML element: h("p", {class: "muted"}, "text", h("strong", {}, "bold")). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  appendAll(el, children);
  return el;
}

/** An SVG element, same calling convention as h(). */
export function s(tag, props = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyProps(el, props);
  appendAll(el, children);
  return el;
}

/** An inline icon from the sprite in index.html (decorative: hidden from assistive technology). */
export function icon(name, cls = "icon") {
  return s("svg", { class: cls, "aria-hidden": "true", focusable: "false" }, s("use", { href: `#i-${name}` }));
}

// Dates: the API reads a time without zone as UTC (EXIF times, a date from the form), so the page
// shows every time in UTC too: the day a photo was taken never shifts with the viewer's time zone.
const DATE = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
const DAY_MONTH = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
const MONTH_YEAR = new Intl.DateTimeFormat("en-GB", { month: "short", year: "numeric", timeZone: "UTC" });
const TIME = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "UTC" });

export const DAY_MS = 86_400_000;

export function toDate(value) {
  return value instanceof Date ? value : new Date(value);
}

export function formatDate(value) {
  return DATE.format(toDate(value));
}

export function formatDayMonth(value) {
  return DAY_MONTH.format(toDate(value));
}

export function formatMonthYear(value) {
  return MONTH_YEAR.format(toDate(value));
}

/** "14:05 UTC", or "" for a time at exactly midnight (a date given without time). */
export function formatTime(value) {
  const d = toDate(value);
  if (d.getUTCHours() === 0 && d.getUTCMinutes() === 0 && d.getUTCSeconds() === 0) return "";
  return `${TIME.format(d)} UTC`;
}

export function formatDuration(days) {
  const d = Math.round(Math.abs(days));
  if (d === 0) return "the same day";
  if (d === 1) return "1 day";
  if (d < 60) return `${d} days`;
  const weeks = Math.round(d / 7);
  if (d < 182) return `${weeks} weeks`;
  const months = Math.round(d / 30.44);
  return `${months} months`;
}

/** Today as YYYY-MM-DD in UTC (the `max` of the date input). */
export function todayIso() {
  return new Date().toISOString().slice(0, 10);
}

/** A real minus sign and an explicit plus, for signed numbers. */
export function signed(value, decimals) {
  const text = Math.abs(value).toFixed(decimals);
  if (Number(text) === 0) return text;
  return (value < 0 ? "\u2212" : "+") + text;
}

export function plain(value, decimals) {
  const text = Math.abs(value).toFixed(decimals);
  return (value < 0 && Number(text) !== 0 ? "\u2212" : "") + text;
}

/** Move keyboard focus to a heading after a view changes (headings carry tabindex=-1). */
export function focusHeading(root) {
  const heading = root.querySelector("h1");
  if (heading) heading.focus({ preventScroll: true });
}
