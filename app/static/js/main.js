// The page's entry point: sign-in state, hash routes and the view that fills <main>.
//
// Routes (the server serves only `/`, so everything after it lives in the hash):
//   #/                                   subjects
//   #/subjects/ID                        a subject: upload, latest analysis, trends, history
//   #/subjects/ID/analyses/AID           the same page showing one analysis
//   #/subjects/ID/compare/A/B            two analyses side by side

import { clearKey, getKey, onUnauthorized } from "./api.js";
import { resetCharts } from "./charts.js";
import { focusHeading, h } from "./dom.js";
import { errorAlert, spinner, toast } from "./ui.js";
import { compareView } from "./views/compare.js";
import { signInView } from "./views/signin.js";
import { subjectView } from "./views/subject/index.js";
import { subjectsView } from "./views/subjects.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
let current = null; // {route, controller}
let generation = 0;
let signInNotice = null;

export function parseRoute(hash = location.hash) {
  const parts = hash
    .replace(/^#\/?/, "")
    .split("/")
    .filter(Boolean)
    .map((p) => decodeURIComponent(p));
  if (parts[0] === "subjects" && parts[1]) {
    if (parts[2] === "analyses" && parts[3]) return { name: "subject", subjectId: parts[1], analysisId: parts[3] };
    if (parts[2] === "compare" && parts[3] && parts[4]) {
      return { name: "compare", subjectId: parts[1], a: parts[3], b: parts[4] };
    }
    return { name: "subject", subjectId: parts[1], analysisId: null };
  }
  return { name: "subjects" };
}

// After a route change, focus moves to the new view's heading (screen readers announce it, Tab goes
// on from there). Not on the first load: Tab then starts at the top of the page (skip link, menu).
let firstView = true;

function show(element) {
  main.replaceChildren(element);
  if (!firstView) focusHeading(main);
  firstView = false;
}

async function render() {
  const route = parseRoute();
  const signedIn = Boolean(getKey());
  nav.hidden = !signedIn;
  document.body.classList.toggle("signed-out", !signedIn);

  if (!signedIn) {
    current = null;
    resetCharts();
    document.title = "Sign in · posture-profile";
    show(signInView({ notice: signInNotice, onSignedIn: () => render() }));
    signInNotice = null;
    return;
  }
  // Same subject, another analysis: only the analysis panel changes (no reload, no scroll jump).
  if (
    current &&
    current.route.name === "subject" &&
    route.name === "subject" &&
    current.route.subjectId === route.subjectId &&
    current.controller
  ) {
    current.route = route;
    current.controller.select(route.analysisId);
    return;
  }

  const mine = ++generation;
  resetCharts();
  current = { route, controller: null };
  main.replaceChildren(spinner());
  try {
    let view;
    if (route.name === "subject") view = await subjectView(route);
    else if (route.name === "compare") view = await compareView(route);
    else view = await subjectsView();
    if (mine !== generation) return; // the user went elsewhere meanwhile
    current.controller = view.controller || null;
    document.title = `${view.title} · posture-profile`;
    show(view.element);
    if (view.mounted) view.mounted();
  } catch (error) {
    if (mine !== generation || !getKey()) return;
    document.title = "Error · posture-profile";
    show(
      h(
        "section",
        { class: "container page" },
        h("h1", { tabindex: "-1" }, "This page could not be shown"),
        errorAlert(error),
        h("p", {}, h("a", { href: "#/" }, "Back to the subjects")),
      ),
    );
  }
}

onUnauthorized(() => {
  if (!getKey()) return;
  clearKey();
  signInNotice = "The API key was not accepted (revoked or mistyped). Sign in again.";
  render();
});

document.getElementById("sign-out").addEventListener("click", () => {
  clearKey();
  toast("Signed out. The key was removed from this browser tab.");
  location.hash = "#/";
  render();
});

// The skip link must not change the hash (that is the router's).
document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

window.addEventListener("hashchange", () => render());
render();
