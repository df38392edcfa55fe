// Sign in with an API key (checked against the API before it is kept in sessionStorage).

import { health, request, setKey } from "../api.js";
import { h, icon } from "../dom.js";
import { errorAlert, noteAlert } from "../ui.js";

async function serverStatus(line) {
  try {
    const body = await health();
    if (body.status === "ok") {
      line.replaceChildren(h("span", { class: "dot dot-ok", "aria-hidden": "true" }), "Server ready");
    } else {
      line.replaceChildren(
        h("span", { class: "dot dot-wait", "aria-hidden": "true" }),
        body.status === "starting" ? "Server starting: the pose model is loading" : body.detail || "Server not ready",
      );
    }
  } catch {
    line.replaceChildren(h("span", { class: "dot dot-bad", "aria-hidden": "true" }), "Server not reachable");
  }
}

export function signInView({ notice, onSignedIn }) {
  const errorBox = h("div", { class: "form-error" });
  const input = h("input", {
    id: "api-key",
    name: "api-key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "api-key-hint",
  });
  const button = h("button", { type: "submit", class: "btn btn-primary btn-block" }, "Sign in");
  const status = h("p", { class: "server-status" }, "Checking the server…");
  serverStatus(status);

  const form = h(
    "form",
    {
      class: "signin-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const key = input.value.trim();
        if (!key) return;
        button.disabled = true;
        button.textContent = "Checking…";
        errorBox.replaceChildren();
        try {
          await request("GET", "/subjects", { query: { limit: 1 }, key });
          setKey(key);
          onSignedIn();
        } catch (error) {
          const title = error.status === 401 ? "Key not accepted" : undefined;
          errorBox.replaceChildren(errorAlert(error, { title }));
          button.disabled = false;
          button.textContent = "Sign in";
          input.focus();
        }
      },
    },
    h("h1", { tabindex: "-1" }, "Sign in"),
    notice ? noteAlert(notice, { tone: "warn" }) : null,
    h("div", { class: "field" }, h("label", { for: "api-key" }, "API key"), input),
    h(
      "p",
      { class: "hint", id: "api-key-hint" },
      "Create one on the server with ",
      h("code", {}, "posture users create NAME"),
      ". The key stays in this browser tab only and is forgotten when you close it.",
    ),
    errorBox,
    button,
    status,
  );

  const intro = h(
    "div",
    { class: "signin-intro" },
    h("p", { class: "eyebrow" }, "Side-profile posture tracking"),
    h("p", { class: "lead" }, "See whether weeks of work changed anything."),
    h(
      "ul",
      { class: "feature-list" },
      h("li", {}, icon("camera"), h("span", {}, h("strong", {}, "Upload a side photo"), " every week or two.")),
      h("li", {}, icon("figure"), h("span", {}, h("strong", {}, "Read the overlay"), ": shin, knee, trunk, head and the plumb line, with pelvic tilt and lumbar curve estimates.")),
      h("li", {}, icon("trend"), h("span", {}, h("strong", {}, "Follow the trends"), " against the noise band, so only real change counts.")),
    ),
  );
  // The form comes first (phones show it first, Tab reaches the key field first); wide screens put the
  // introduction on its left.
  return h("section", { class: "container signin" }, h("div", { class: "card signin-card" }, form), intro);
}
