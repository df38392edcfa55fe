// The upload form of a subject's page: choose or drop a photo, the optional fields, the upload with its
// progress, and the refusal shown in the API's words. After an upload it invites the next shot of the
// same visit (the photo protocol asks for three), keeping the fields that make it join that visit.
// "Take photos" switches the card to the capture view (capture.js): this device's camera and level.

import { get, uploadPhoto } from "../../api.js";
import { formatDate, h, icon, todayIso } from "../../dom.js";
import { errorAlert, noteAlert, toast } from "../../ui.js";
import { capturePanel } from "./capture.js";

const PROTOCOL_SHOTS = 3; // docs/photo-protocol.md: three shots per session, and their median

const ACCEPT = "image/jpeg,image/png,image/webp,image/heic,image/heif,.jpg,.jpeg,.png,.webp,.heic,.heif";

function fileSize(bytes) {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function uploadForm(subject, onUploaded, { showAnalysis = null } = {}) {
  const fileInput = h("input", { type: "file", id: "photo", name: "photo", accept: ACCEPT, required: true, class: "visually-hidden" });
  const dropText = h(
    "span",
    { class: "drop-text" },
    h("span", { class: "drop-title" }, "Choose a photo"),
    h("span", { class: "muted small" }, "or drop it here · JPEG, PNG, WebP or HEIC"),
  );
  const preview = h("span", { class: "drop-preview", "aria-hidden": "true" }, icon("camera", "icon drop-icon"));
  const dropLabel = h("label", { for: "photo", class: "drop" }, preview, dropText);
  const dateInput = h("input", { type: "date", id: "taken-at", name: "taken_at", max: todayIso(), "aria-describedby": "taken-at-hint" });
  const facing = h(
    "select",
    { id: "facing", name: "facing" },
    h("option", { value: "" }, "Auto-detect"),
    h("option", { value: "left" }, "Facing left"),
    h("option", { value: "right" }, "Facing right"),
  );
  const mode = h(
    "select",
    { id: "mode", name: "mode" },
    h("option", { value: "standing" }, "Standing"),
    h("option", { value: "lunge" }, "Knee-to-wall lunge"),
  );
  const roll = h("input", {
    type: "number",
    id: "camera-roll",
    name: "camera_roll_deg",
    min: -45,
    max: 45,
    step: 0.1,
    inputmode: "decimal",
    placeholder: "0",
    "aria-describedby": "camera-roll-hint",
  });
  const visitLabel = h("input", {
    type: "text",
    id: "visit-label",
    name: "visit",
    maxlength: 64,
    autocomplete: "off",
    placeholder: "by time",
    "aria-describedby": "visit-label-hint",
  });
  const submit = h("button", { type: "submit", class: "btn btn-primary", id: "upload-button" }, icon("upload"), "Analyse photo");
  const cancel = h("button", { type: "button", class: "btn btn-secondary", hidden: true }, "Cancel");
  const bar = h("progress", { max: 100, value: 0, "aria-labelledby": "upload-status" });
  const statusText = h("span", { id: "upload-status" }, "");
  const progress = h("div", { class: "progress", hidden: true }, bar, statusText);
  const message = h("div", { class: "upload-message", "aria-live": "polite" });
  const invite = h("div", { class: "upload-invite", "aria-live": "polite" });
  let previewUrl = null;
  let current = null;
  // The visit the next shot is meant to join (after "Add another shot to this visit"), with the
  // fields of the shot before it: {visit, fields: {date, facing, mode, roll, label}}.
  let sameVisit = null;

  const showFile = (file) => {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    if (!file) {
      preview.replaceChildren(icon("camera", "icon drop-icon"));
      dropText.replaceChildren(h("span", { class: "drop-title" }, "Choose a photo"), h("span", { class: "muted small" }, "or drop it here · JPEG, PNG, WebP or HEIC"));
      dropLabel.classList.remove("has-file");
      return;
    }
    previewUrl = URL.createObjectURL(file);
    const img = h("img", { src: previewUrl, alt: "" });
    img.addEventListener("error", () => preview.replaceChildren(icon("image", "icon drop-icon")));
    preview.replaceChildren(img);
    dropText.replaceChildren(h("span", { class: "drop-title file-name" }, file.name), h("span", { class: "muted small" }, `${fileSize(file.size)} · choose another`));
    dropLabel.classList.add("has-file");
    message.replaceChildren();
  };
  fileInput.addEventListener("change", () => showFile(fileInput.files[0]));
  for (const type of ["dragenter", "dragover"]) {
    dropLabel.addEventListener(type, (event) => {
      event.preventDefault();
      dropLabel.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    dropLabel.addEventListener(type, () => dropLabel.classList.remove("dragging"));
  }
  dropLabel.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      fileInput.files = event.dataTransfer.files;
      showFile(fileInput.files[0]);
    }
  });

  const setBusy = (busy) => {
    for (const el of [fileInput, dateInput, facing, mode, roll, visitLabel, submit]) el.disabled = busy;
    cancel.hidden = !busy;
    progress.hidden = !busy;
  };

  const form = h(
    "form",
    {
      class: "upload-form",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        const file = fileInput.files[0];
        if (!file) {
          message.replaceChildren(errorAlert({ code: "no_photo", message: "Choose a photo first." }, { title: "No photo chosen" }));
          fileInput.focus();
          return;
        }
        if (roll.value !== "" && (!roll.checkValidity() || Math.abs(Number(roll.value)) > 45)) {
          message.replaceChildren(errorAlert({ code: "invalid_option", message: "The camera roll must be a number between −45° and 45°." }));
          roll.focus();
          return;
        }
        const data = new FormData();
        data.append("photo", file, file.name);
        if (dateInput.value) data.append("taken_at", dateInput.value);
        if (facing.value) data.append("facing", facing.value);
        data.append("mode", mode.value);
        if (roll.value !== "") data.append("camera_roll_deg", roll.value);
        if (visitLabel.value.trim() !== "") data.append("visit", visitLabel.value.trim());
        const fields = { date: dateInput.value, facing: facing.value, mode: mode.value, roll: roll.value, label: visitLabel.value };
        const joining = sameVisit;

        message.replaceChildren();
        bar.value = 0;
        statusText.textContent = "Uploading… 0 %";
        setBusy(true);
        current = uploadPhoto(subject.id, data, {
          onProgress: (fraction) => {
            bar.value = Math.round(fraction * 100);
            statusText.textContent = `Uploading… ${Math.round(fraction * 100)} %`;
          },
          onUploaded: () => {
            bar.removeAttribute("value"); // indeterminate while the server analyses
            statusText.textContent = "Analysing the photo…";
            cancel.hidden = true;
          },
        });
        try {
          const analysis = await current.promise;
          form.reset();
          showFile(null);
          dateInput.max = todayIso();
          sameVisit = null;
          const overall = analysis.scores.overall;
          await onUploaded(analysis);
          await showInvite(analysis, fields, joining);
          // What was joined and what comes next, on the screen (a phone shows the form's foot).
          invite.scrollIntoView({ block: "nearest", behavior: "smooth" });
          toast(`Photo analysed${overall !== undefined ? `: overall ${overall} / 100` : ""}.`);
        } catch (error) {
          message.replaceChildren(errorAlert(error));
        } finally {
          current = null;
          setBusy(false);
        }
      },
    },
    h("div", { class: "upload-file" }, fileInput, dropLabel),
    h(
      "div",
      { class: "upload-fields" },
      h("div", { class: "field" }, h("label", { for: "taken-at" }, "Date taken"), dateInput, h("p", { class: "hint", id: "taken-at-hint" }, "Optional: else the photo's own date, else today.")),
      h("div", { class: "field" }, h("label", { for: "facing" }, "Facing"), facing),
      h("div", { class: "field" }, h("label", { for: "mode" }, "Mode"), mode),
      h("div", { class: "field" }, h("label", { for: "camera-roll" }, "Camera roll (°)"), roll, h("p", { class: "hint", id: "camera-roll-hint" }, "Optional, from the phone's level.")),
      h(
        "div",
        { class: "field field-wide" },
        h("label", { for: "visit-label" }, "Visit"),
        visitLabel,
        h("p", { class: "hint", id: "visit-label-hint" }, "Optional label: photos with one label form one visit. Empty: photos within 30 minutes of each other do."),
      ),
      h("div", { class: "upload-actions" }, submit, cancel, progress),
    ),
  );
  cancel.addEventListener("click", () => current && current.abort());

  // After an upload: which visit the photo joined, and the invitation to add its next shot.
  async function showInvite(analysis, fields, joining) {
    invite.replaceChildren();
    if (!analysis.visit_id) return;
    let visit;
    try {
      visit = await get(`/visits/${analysis.visit_id}`);
    } catch {
      return; // the photo is stored and shown; only the invitation is missing
    }
    const date = formatDate(visit.taken_at);
    const missed = joining && joining.visit.id !== visit.id;
    const parts = [];
    if (missed) {
      parts.push(
        noteAlert(
          `This photo started a new visit: it was taken more than 30 minutes from the shots of the visit of ${formatDate(joining.visit.taken_at)}. Give both the same date or the same visit label to join them.`,
          { tone: "warn" },
        ),
      );
    }
    const more = visit.n < PROTOCOL_SHOTS
      ? ` The photo protocol asks for ${PROTOCOL_SHOTS}: step off and back on, then take the next.`
      : "";
    const again = h("button", { type: "button", class: "btn btn-secondary btn-small", id: "another-shot" }, icon("camera"), "Add another shot to this visit");
    again.addEventListener("click", () => {
      sameVisit = { visit, fields };
      dateInput.value = fields.date;
      facing.value = fields.facing;
      mode.value = fields.mode;
      roll.value = fields.roll;
      visitLabel.value = visit.label || fields.label;
      invite.replaceChildren(
        h(
          "p",
          { class: "invite-line", "data-visit": visit.id },
          icon("info"),
          h("span", {}, `The next photo joins the visit of ${date} (${visit.n} ${visit.n === 1 ? "shot" : "shots"} so far): choose it above.`),
        ),
      );
      fileInput.focus();
    });
    parts.push(
      h(
        "div",
        { class: "invite-line", "data-visit": visit.id },
        h("p", {}, `Shot ${visit.n} of the visit of ${date}${visit.label ? ` (${visit.label})` : ""}.${more}`),
        h(
          "div",
          { class: "invite-actions" },
          again,
          // On a phone the analysis is another tab: one tap to see what was just measured.
          showAnalysis
            ? h("button", { type: "button", class: "btn btn-secondary btn-small", id: "see-analysis", onclick: () => showAnalysis(analysis.id) }, icon("figure"), "See its analysis")
            : null,
        ),
      ),
    );
    invite.replaceChildren(...parts);
  }

  // Two ways to add photos: a file taken elsewhere, or the camera of this device (capture.js).
  const uploadPart = h("div", { class: "upload-part", id: "upload-part" }, form, message, invite);
  let capture = null;
  const capturePart = h("div", { class: "capture-part", id: "capture-part", hidden: true });
  const tabs = {
    upload: h("button", { type: "button", "aria-pressed": "true", "aria-controls": "upload-part", id: "tab-upload" }, icon("upload"), "Upload"),
    capture: h("button", { type: "button", "aria-pressed": "false", "aria-controls": "capture-part", id: "tab-capture" }, icon("camera"), "Take photos"),
  };
  const choose = (which) => {
    tabs.upload.setAttribute("aria-pressed", String(which === "upload"));
    tabs.capture.setAttribute("aria-pressed", String(which === "capture"));
    uploadPart.hidden = which !== "upload";
    capturePart.hidden = which !== "capture";
    if (which === "capture" && !capture) {
      capture = capturePanel(subject, onUploaded);
      capturePart.append(capture.element);
    }
    if (which === "upload" && capture) capture.stop();
  };
  tabs.upload.addEventListener("click", () => choose("upload"));
  tabs.capture.addEventListener("click", () => choose("capture"));

  return h(
    "section",
    { class: "card upload", "aria-labelledby": "upload-title" },
    h(
      "div",
      { class: "section-head" },
      h(
        "div",
        {},
        h("h2", { id: "upload-title" }, "Add a photo"),
        h("p", { class: "muted small" }, "Side on, whole body in the frame, camera level at hip height."),
      ),
      h("div", { class: "segmented add-modes", role: "group", "aria-label": "How to add photos" }, tabs.upload, tabs.capture),
    ),
    uploadPart,
    capturePart,
  );
}
