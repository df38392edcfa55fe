// The section bar of a subject's page: Analysis · History · Trends · Movement · Plan (the programme log) · Add · Report,
// each one tap away. On a phone (the bar's media query in css/views/subject/sections.css) the page shows
// one section at a time, as tabs: the page is as long as that section, not as all of them. On a wider
// screen every section stays on the page and a tap scrolls to it. The choice is kept for the tab
// (sessionStorage), so a reload or a return from Compare opens the same section.

import { h, icon } from "../../dom.js";

export const SECTIONS = [
  { id: "analysis", label: "Analysis", icon: "figure" },
  { id: "history", label: "History", icon: "image" },
  { id: "trends", label: "Trends", icon: "trend" },
  { id: "movements", label: "Movement", icon: "arrow" },
  { id: "programmes", label: "Plan", icon: "check" },
  { id: "add", label: "Add", icon: "camera" },
  { id: "report", label: "Report", icon: "download" },
];

const STORE = "posture-profile.section";
const PHONE = "(max-width: 760px)";

/**
 * The bar over `page` (the element holding the sections, each with `data-section`): `{element, show,
 * current}` (`element`: the nodes to insert above the sections). `show(id, {scroll})` makes `id` the active section; `initial` is the section shown first
 * when the tab has none stored for this subject.
 */
export function sectionBar(page, subjectId, initial) {
  const key = `${STORE}.${subjectId}`;
  const phone = window.matchMedia(PHONE);
  let active = null;
  const buttons = SECTIONS.map((section) =>
    h(
      "button",
      { type: "button", class: "section-tab", "data-target": section.id, id: `tab-${section.id}`, onclick: () => show(section.id, { scroll: true }) },
      icon(section.icon),
      h("span", {}, section.label),
    ),
  );
  const nav = h("nav", { class: "section-bar", "aria-label": "Sections of this page" }, h("div", { class: "section-bar-inner" }, buttons));
  // Where the bar sits when not stuck: a stuck bar's own box no longer says it.
  const anchor = h("div", { class: "section-anchor", "aria-hidden": "true" });
  const element = [anchor, nav];

  const mark = (id) => {
    for (const button of buttons) {
      if (button.dataset.target === id) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  };

  function show(id, { scroll = false, focus = false } = {}) {
    if (!SECTIONS.some((section) => section.id === id)) id = "analysis";
    active = id;
    page.dataset.shown = id;
    try {
      sessionStorage.setItem(key, id);
    } catch {
      // storage refused (private mode): the choice lasts for this page only
    }
    mark(id);
    spyPaused = performance.now() + 1200; // the smooth scroll to it passes other sections
    for (const part of page.querySelectorAll("[data-section]")) part.classList.toggle("is-active", part.dataset.section === id);
    if (!scroll) return;
    const target = page.querySelector(`[data-section="${id}"]`);
    if (!target) return;
    if (phone.matches) {
      // One section shown: it starts right under the bar (the header above it stays reachable by
      // scrolling up when the page was not scrolled past it).
      const top = anchor.getBoundingClientRect().top + window.scrollY - stickyTop();
      if (window.scrollY > top) window.scrollTo({ top, behavior: "auto" });
    } else {
      target.scrollIntoView({ block: "start", behavior: "smooth" });
    }
    if (focus) {
      const heading = target.querySelector("h2");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: true });
      }
    }
  }

  // On a wide screen the bar follows the scroll: the section under the bar is marked.
  let spyPaused = 0;
  const inBand = new Set(); // the sections crossing the band under the bar
  const spy = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (entry.isIntersecting) inBand.add(entry.target.dataset.section);
        else inBand.delete(entry.target.dataset.section);
      }
      if (phone.matches || performance.now() < spyPaused) return;
      const first = SECTIONS.find((s) => inBand.has(s.id));
      if (first) mark(first.id);
    },
    { rootMargin: "-130px 0px -60% 0px" },
  );
  for (const part of page.querySelectorAll("[data-section]")) spy.observe(part);

  let stored = null;
  try {
    stored = sessionStorage.getItem(key);
  } catch {
    stored = null;
  }
  show(stored || initial);
  return { element, show, current: () => active, isPhone: () => phone.matches };
}

/** Where the bar sticks: under the site's top bar. */
function stickyTop() {
  const bar = document.querySelector(".topbar");
  return bar ? bar.getBoundingClientRect().height : 0;
}
