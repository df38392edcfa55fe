// Movement clips recorded in the capture view: "Record squat" and "Record knee-to-wall lunge". The same
// level gate as the photos (the recording starts only while the phone reads level, or without a sensor),
// a countdown, a framing guide fitted to the test drawn over the picture, then `MediaRecorder` for up to
// MAX_SECONDS in a format the browser can record (MP4 or WebM), uploaded as a movement job with the
// phone's roll while filming (`camera_roll_source=device`), and its progress and result as for an
// uploaded clip. capture.js owns the camera and the level; this module only asks them.

import { get, uploadClip } from "../../api.js";
import { h, s, signed } from "../../dom.js";
import { JOB_ERROR_TITLES, MOVEMENT_MEASURES, MOVEMENT_TESTS } from "../../labels.js";
import { errorAlert, noteAlert, toast } from "../../ui.js";

export const MAX_SECONDS = 15; // the longest clip recorded here (the API takes up to 30 s)
const POLL_MS = 500;
// Tried in order: MP4 (H.264) where the browser records it (Safari, recent Chromium), else WebM.
const FORMATS = ["video/mp4;codecs=avc1", "video/mp4", "video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"];
const TESTS = {
  squat: {
    button: "Record squat",
    hint: "Side on, the whole body in view from head to feet, feet on the line: squat slowly 3 to 5 times.",
  },
  lunge: {
    button: "Record knee-to-wall lunge",
    hint: "Side on: the front foot, the wall and the knee in view. Drive the knee to the wall 3 to 5 times, heel down; switch legs between reps if you like.",
  },
};

/** The first recording format the browser supports, or null (no MediaRecorder, or none of them). */
export function recordingFormat() {
  if (typeof MediaRecorder === "undefined") return null;
  return FORMATS.find((type) => MediaRecorder.isTypeSupported(type)) || null;
}

function median(values) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The framing guide of a test over a `w` × `hgt` picture (facing right unless `left`): for the squat a
 * box for the whole body with the floor line; for the lunge the wall, the front foot's place at its
 * foot and the knee's target on it.
 */
function clipGuide(test, w, hgt, left) {
  const svg = s("svg", { class: "clip-guide", "data-test": test, viewBox: `0 0 ${w} ${hgt}`, "aria-hidden": "true", focusable: "false" });
  const floor = hgt * 0.92;
  const X = (x) => (left ? w - x : x);
  svg.append(s("line", { class: "clip-floor", x1: 0, x2: w, y1: floor, y2: floor }));
  if (test === "squat") {
    const bw = w * 0.46;
    svg.append(s("rect", { class: "clip-zone", x: (w - bw) / 2, y: hgt * 0.08, width: bw, height: floor - hgt * 0.08, rx: 8 }));
    svg.append(s("text", { class: "clip-label", x: w / 2, y: hgt * 0.06, "text-anchor": "middle" }, "Whole body in the box"));
  } else {
    const wallX = X(w * 0.8);
    svg.append(s("line", { class: "clip-wall", x1: wallX, x2: wallX, y1: hgt * 0.35, y2: floor }));
    const footW = w * 0.22;
    svg.append(s("rect", { class: "clip-zone", x: left ? wallX : wallX - footW, y: floor - hgt * 0.06, width: footW, height: hgt * 0.06, rx: 4 }));
    svg.append(s("circle", { class: "clip-target", cx: wallX + (left ? 1 : -1) * w * 0.025, cy: floor - hgt * 0.3, r: w * 0.05 }));
    svg.append(s("text", { class: "clip-label", x: w / 2, y: hgt * 0.3, "text-anchor": "middle" }, "Front foot, wall and knee in view"));
  }
  return svg;
}

/**
 * The clip part of the capture panel. `camera`: {stream(), video, stage, levelOk(), roll(), facing(),
 * delay() (s), beep(f, s), busy() (photos being taken), countdown (the stage's element)}. Returns
 * `{element, onLevel, recording, stop}`: capture.js calls `onLevel()` when the level or the camera
 * changes, reads `recording()` to keep its shutter shut meanwhile (`camera.changed()` is called when
 * a clip begins or ends), and `stop()` when the camera stops.
 */
export function clipRecorder(subject, camera) {
  const format = recordingFormat();
  let active = null; // {test, cancelled, recorder, timer, guide, stopRecording}
  const buttons = Object.fromEntries(
    Object.entries(TESTS).map(([test, t]) => [
      test,
      h("button", { type: "button", class: "btn btn-secondary", id: `clip-record-${test}`, "data-test": test, disabled: true, onclick: () => record(test) }, t.button),
    ]),
  );
  const stopButton = h("button", { type: "button", class: "btn btn-primary", id: "clip-stop", hidden: true, onclick: () => active && active.stopRecording && active.stopRecording() }, "Stop recording");
  const cancelButton = h("button", { type: "button", class: "btn btn-secondary", id: "clip-cancel", hidden: true, onclick: () => cancel() }, "Cancel");
  const status = h("p", { class: "clip-status", id: "clip-status", "aria-live": "polite" });
  const bar = h("progress", { class: "clip-progress", max: 100, value: 0, hidden: true, "aria-label": "Clip progress" });
  const result = h("div", { class: "clip-result", id: "clip-result", "aria-live": "polite" });
  const hint = h("p", { class: "hint" }, format ? `Up to ${MAX_SECONDS} s, recorded as ${format.startsWith("video/mp4") ? "MP4" : "WebM"}; the shutter's level applies.` : "This browser cannot record video: film the clip with the phone's camera app and add it under Movement tests.");

  const recording = () => Boolean(active);

  const onLevel = () => {
    const ready = Boolean(format) && Boolean(camera.stream()) && camera.levelOk() && !camera.busy() && !active;
    for (const b of Object.values(buttons)) b.disabled = !ready;
  };

  const showGuide = (test) => {
    const video = camera.video;
    const guide = clipGuide(test, video.videoWidth || 100, video.videoHeight || 178, camera.facing() === "left");
    camera.stage.append(guide);
    camera.stage.classList.add("is-clip");
    return guide;
  };
  const hideGuide = () => {
    if (active && active.guide) active.guide.remove();
    camera.stage.classList.remove("is-clip");
  };

  const setButtons = (state) => {
    stopButton.hidden = state !== "recording";
    cancelButton.hidden = state !== "countdown";
    for (const b of Object.values(buttons)) b.hidden = state === "recording" || state === "countdown";
  };

  /** The countdown before filming, then the level gate; resolves false when cancelled. */
  const countdown = (seconds) =>
    new Promise((resolve) => {
      const end = performance.now() + seconds * 1000;
      let shown = null;
      camera.countdown.hidden = false;
      const tick = () => {
        if (!active || active.cancelled) {
          camera.countdown.hidden = true;
          resolve(false);
          return;
        }
        const left = Math.ceil((end - performance.now()) / 1000);
        if (left <= 0 && camera.levelOk()) {
          camera.countdown.hidden = true;
          resolve(true);
          return;
        }
        if (left <= 0) status.textContent = "Waiting for the phone to be level again…";
        else if (left !== shown) {
          shown = left;
          camera.countdown.textContent = String(left);
          status.textContent = `Recording starts in ${left} s: get into place.`;
          if (left <= 3) camera.beep(660);
        }
        setTimeout(tick, 100);
      };
      tick();
    });

  /** Film until Stop, MAX_SECONDS or a cancel; resolves {blob, rolls, startedAt} or null. */
  const film = () =>
    new Promise((resolve) => {
      const chunks = [];
      const rolls = [];
      let recorder;
      try {
        recorder = new MediaRecorder(camera.stream(), { mimeType: format });
      } catch (error) {
        result.replaceChildren(errorAlert({ code: "recording_failed", message: `The clip could not be recorded (${error.message || error}).` }));
        resolve(null);
        return;
      }
      const startedAt = new Date();
      const began = performance.now();
      recorder.addEventListener("dataavailable", (event) => event.data && event.data.size && chunks.push(event.data));
      recorder.addEventListener("stop", () => {
        clearInterval(active.timer);
        if (active.cancelled || !chunks.length) {
          resolve(null);
          return;
        }
        resolve({ blob: new Blob(chunks, { type: format.split(";")[0] }), rolls, startedAt });
      });
      active.recorder = recorder;
      active.stopRecording = () => recorder.state !== "inactive" && recorder.stop();
      // The roll while filming, sampled: its median goes with the clip.
      active.timer = setInterval(() => {
        const roll = camera.roll();
        if (roll !== null) rolls.push(roll);
        const seconds = (performance.now() - began) / 1000;
        status.textContent = `Recording… ${Math.floor(seconds)} s of ${MAX_SECONDS}`;
        bar.value = Math.min(100, (100 * seconds) / MAX_SECONDS);
        if (seconds >= MAX_SECONDS) active.stopRecording();
      }, 100);
      const first = camera.roll();
      if (first !== null) rolls.push(first);
      recorder.start(1000);
      camera.beep(1320, 0.15);
      setButtons("recording");
      bar.hidden = false;
    });

  const pollJob = async (jobId) => {
    for (;;) {
      const job = await get(`/jobs/${jobId}`);
      if (job.status === "done" || job.status === "failed") return job;
      bar.value = Math.round(10 + job.progress * 90);
      status.textContent = job.status === "queued" ? "Waiting for a worker…" : `Analysing… ${Math.round(job.progress * 100)} %`;
      if (!element.isConnected) return job; // the page was left
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };

  const send = async (test, clip) => {
    const data = new FormData();
    const ext = clip.blob.type === "video/mp4" ? "mp4" : "webm";
    data.append("clip", clip.blob, `capture-${test}.${ext}`);
    data.append("test", test);
    if (camera.facing()) data.append("facing", camera.facing());
    const roll = median(clip.rolls);
    if (roll !== null) {
      data.append("camera_roll_deg", roll.toFixed(2));
      data.append("camera_roll_source", "device");
    }
    data.append("taken_at", clip.startedAt.toISOString());
    status.textContent = "Uploading…";
    bar.value = 0;
    const upload = uploadClip(subject.id, data, { onProgress: (f) => (bar.value = Math.round(f * 10)) });
    const { job } = await upload.promise;
    const ended = await pollJob(job.id);
    if (ended.status === "failed") {
      const error = ended.error || { code: "analysis_failed", message: "The analysis failed." };
      result.replaceChildren(errorAlert(error, { title: JOB_ERROR_TITLES[error.code] }));
      status.textContent = "The clip could not be used.";
      return;
    }
    if (ended.status !== "done") return;
    const movement = await get(`/movements/${ended.movement_id}`);
    const meta = MOVEMENT_TESTS[test];
    const headline = meta && movement.measures[meta.headline];
    const label = meta ? (MOVEMENT_MEASURES[meta.headline] || { label: meta.headline }).label : "";
    const rolls = clip.rolls.length ? ` Camera roll while filming: ${signed(Math.min(...clip.rolls), 1)}° to ${signed(Math.max(...clip.rolls), 1)}°.` : "";
    result.replaceChildren(
      h(
        "div",
        { class: "clip-summary", "data-movement": movement.id },
        h("h3", {}, `${meta ? meta.label : test} recorded`),
        h("p", {}, headline !== null && headline !== undefined ? `${label}: ` : "", headline !== null && headline !== undefined ? h("strong", {}, `${headline.toFixed(1)}°`) : "Analysed.", ` (${(movement.analysis && movement.analysis.reps ? movement.analysis.reps.length : 0)} reps).${rolls}`),
        h("p", {}, h("a", { href: "#movements" }, "See it under Movement tests")),
      ),
    );
    status.textContent = "Done.";
    toast("Clip analysed.");
    window.dispatchEvent(new CustomEvent("posture:movement-added", { detail: movement }));
  };

  const record = async (test) => {
    if (active || !format || !camera.levelOk() || camera.busy()) return;
    active = { test, cancelled: false, recorder: null, timer: null, guide: null, stopRecording: null };
    camera.changed();
    result.replaceChildren();
    active.guide = showGuide(test);
    status.textContent = TESTS[test].hint;
    setButtons("countdown");
    let clip = null;
    try {
      if (await countdown(camera.delay())) clip = await film();
      hideGuide();
      setButtons("idle");
      if (clip) await send(test, clip);
      else if (!result.childElementCount) status.textContent = "Stopped: no clip was recorded.";
    } catch (error) {
      result.replaceChildren(errorAlert(error));
      status.textContent = "";
    } finally {
      hideGuide();
      bar.hidden = true;
      active = null;
      setButtons("idle");
      camera.changed();
    }
  };

  const cancel = () => {
    if (!active) return;
    active.cancelled = true;
    if (active.stopRecording) active.stopRecording();
  };

  const element = h(
    "div",
    { class: "clip-recorder", id: "clip-recorder" },
    h("h3", {}, "Movement clips"),
    h("div", { class: "capture-actions" }, Object.values(buttons), stopButton, cancelButton),
    hint,
    !format ? noteAlert("Recording is not available in this browser.", { tone: "info" }) : null,
    status,
    bar,
    result,
  );
  return { element, onLevel, recording, stop: cancel };
}
