// The capture view of a subject's page ("Take photos"): the rear camera with a framing guide, the
// phone's live level, and a visit of three shots on a timer, each sent with the roll the phone's sensor
// read at the instant of the shot (`camera_roll_source=device`), then the visit's median.
//
// The shutter opens only while the level reads within `[capture] level_tolerance_deg` of rules.toml
// (GET /api/v1/capture). Without an orientation sensor (a desktop, or motion access refused) the view
// still works: the photos go without a roll, and the analysis reads the level from the photo.

import { get, uploadPhoto } from "../../api.js";
import { formatDate, formatTime, h, icon, plain, s, signed } from "../../dom.js";
import { rollFromOrientation, screenAngle } from "../../level.js";
import { formatMeasure, KEY_TRENDS, MEASURES, measureLabel } from "../../labels.js";
import { bandChip, errorAlert, noteAlert, toast } from "../../ui.js";
import { clipRecorder } from "./capture_clip.js";

const SHOTS = 3; // docs/photo-protocol.md: three shots per session, and their median
const SENSOR_WAIT_MS = 1000; // no orientation event with values by then: no sensor
const JPEG_QUALITY = 0.92;
const PITCH_HINT_DEG = 10; // beyond this the lens points noticeably up or down (perspective)

// The framing guide in a 100 × 200 box (head top at y 1, soles at y 198), a person standing side on
// and facing right; it is scaled to GUIDE_HEIGHT of the picture's height, the floor line under it. The
// top strip is left to the level drawn over the picture; the margins keep head and feet clear of the
// frame's edges (the quality gate refuses a cut-off body).
const GUIDE_TOP = 0.12;
const GUIDE_HEIGHT = 0.78;
const GUIDE_BODY =
  "M45 25 C41 31 39 38 39 46 C38 56 40 68 42 79 C39 86 37 92 38 99 C39 108 41 116 42 124 " +
  "C43 131 44 137 44 142 C42 150 42 160 43 172 C43 182 43 190 43 196 L70 198 C70 194 66 192 60 190 " +
  "C55 186 53 178 52 168 C51 158 53 148 54 140 C56 128 58 116 58 104 C59 96 60 88 60 79 " +
  "C62 68 63 56 62 46 C61 38 59 31 56 26 Z";
const GUIDE_ARM = "M50 34 C52 52 53 72 52 100";

function guideSvg() {
  const figure = s(
    "g",
    { class: "guide-figure" },
    s("circle", { cx: 52, cy: 13, r: 12 }),
    s("path", { d: GUIDE_BODY }),
    s("path", { d: GUIDE_ARM, class: "guide-arm" }),
  );
  const placed = s("g", {}, figure);
  let mirrored = false;
  let size = [100, 178];
  const floor = s("line", { class: "guide-floor", x1: 0, x2: 100, y1: 0, y2: 0 });
  const levelLine = s("line", { class: "guide-level", x1: 0, x2: 100, y1: 0, y2: 0 });
  const svg = s("svg", { class: "capture-guide", "aria-hidden": "true", focusable: "false" }, floor, levelLine, placed);
  /** Fit the guide to a picture of `w` × `h` pixels. */
  const fit = (w, hgt) => {
    size = [w, hgt];
    svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
    const scale = (GUIDE_HEIGHT * hgt) / 200;
    const y = GUIDE_TOP * hgt;
    // The figure's middle (x 54 of its box) on the picture's middle; mirrored for a person facing left.
    const x = mirrored ? w / 2 + 54 * scale : w / 2 - 54 * scale;
    const flip = mirrored ? -scale : scale;
    placed.setAttribute("transform", `translate(${x.toFixed(1)} ${y.toFixed(1)}) scale(${flip.toFixed(4)} ${scale.toFixed(4)})`);
    const floorY = (y + 198 * scale).toFixed(1);
    for (const [k, v] of Object.entries({ x1: 0, x2: w, y1: floorY, y2: floorY })) floor.setAttribute(k, v);
    for (const [k, v] of Object.entries({ x1: w * 0.2, x2: w * 0.8, y1: hgt / 2, y2: hgt / 2 })) levelLine.setAttribute(k, v);
    svg.dataset.w = w;
    svg.dataset.h = hgt;
  };
  /** The true horizontal through the centre: lines level in the world appear turned clockwise by the roll. */
  const showRoll = (roll) => {
    levelLine.classList.toggle("is-hidden", roll === null);
    const w = Number(svg.dataset.w || 100);
    const hgt = Number(svg.dataset.h || 100);
    levelLine.setAttribute("transform", roll === null ? "" : `rotate(${roll.toFixed(2)} ${w / 2} ${hgt / 2})`);
  };
  /** The figure faces right, or left when the person is to face left. */
  const face = (left) => {
    mirrored = left;
    fit(...size);
  };
  fit(100, 178);
  return { svg, fit, showRoll, face };
}

/** "spread 1.3°": the max − min of a visit's shots, or "" with fewer than two. */
function spreadText(name, spread) {
  if (spread === null || spread === undefined) return "";
  const meta = MEASURES[name] || { unit: "", decimals: 1 };
  return `spread ${plain(spread, Math.max(1, meta.decimals))}${meta.unit === "%" ? "\u202f%" : meta.unit}`;
}

/**
 * The label of a new visit taken at `when`: "Camera 2 Dec 2026 14:05" (UTC, as every date of the page),
 * with the seconds, then a number, when a visit of this subject already has it: shots with one label
 * form one visit whatever their times, so a label in use would merge two runs.
 */
function newVisitLabel(when, taken) {
  const minute = `Camera ${formatDate(when)} ${when.toISOString().slice(11, 16)}`;
  const second = `${minute}:${when.toISOString().slice(17, 19)}`;
  if (!taken.has(minute)) return minute;
  if (!taken.has(second)) return second;
  let n = 2;
  while (taken.has(`${second} (${n})`)) n += 1;
  return `${second} (${n})`;
}

/** "Camera 6 Dec 2026 14:05 (3 shots)", or "6 Dec 2026 · Baseline (3 shots)": a visit in the picker. */
function visitOption(visit) {
  const shots = `${visit.n} ${visit.n === 1 ? "shot" : "shots"}`;
  return visit.label.startsWith("Camera ") ? `${visit.label} (${shots})` : `${formatDate(visit.taken_at)} · ${visit.label} (${shots})`;
}

// Short beeps so a person standing away from the phone knows when the shot comes (no file to load).
function beeper() {
  let audio = null;
  return {
    unlock() {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!audio && Ctx) {
        try {
          audio = new Ctx();
        } catch {
          audio = null;
        }
      }
      if (audio && audio.state === "suspended") audio.resume().catch(() => {});
    },
    beep(frequency = 880, seconds = 0.08) {
      if (!audio || audio.state !== "running") return;
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = frequency;
      gain.gain.value = 0.08;
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + seconds);
    },
  };
}

function cameraProblem(error) {
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "SecurityError") {
    return "Camera access was not allowed. Allow the camera for this site in the browser's settings and press Start the camera again, or use Upload.";
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") return "No camera was found on this device. Use Upload to send a photo taken elsewhere.";
  if (name === "NotReadableError") return "The camera is in use by another app or tab. Close it and press Start the camera again.";
  return `The camera could not be started (${(error && error.message) || error}). Use Upload instead.`;
}

/**
 * The capture panel: `{element, stop}`. `onUploaded(analysis)` is called with the visit's central shot
 * once its shots are stored (the page then shows them); the caller calls `stop()` (camera and sensor
 * off) when it hides the panel, and the panel stops them itself when it leaves the document.
 */
export function capturePanel(subject, onUploaded) {
  let settings = null; // GET /capture
  let stream = null;
  const beeps = beeper();

  // --- the level, from the phone's orientation sensor ----------------------------------------
  // sensor: "unknown" until the first second has passed, then "live" or "none".
  const level = { sensor: "unknown", beta: null, gamma: null, roll: null, pitch: null, reason: "" };
  let sensorTimer = null;
  let onLevel = () => {};
  // The roll from the last reading and the screen's angle now (turning the screen changes the roll).
  const recompute = () => {
    if (level.sensor !== "live") return;
    const reading = rollFromOrientation(level.beta, level.gamma, screenAngle());
    level.roll = reading ? reading.roll : null;
    level.pitch = reading ? reading.pitch : null;
  };
  const onOrientation = (event) => {
    if (typeof event.beta !== "number" || typeof event.gamma !== "number") return; // Chromium without a sensor sends one event of nulls
    level.sensor = "live";
    level.beta = event.beta;
    level.gamma = event.gamma;
    recompute();
    onLevel();
  };
  const listenLevel = (permission) => {
    window.addEventListener("deviceorientation", onOrientation);
    clearTimeout(sensorTimer);
    sensorTimer = setTimeout(() => {
      if (level.sensor === "unknown") {
        level.sensor = "none";
        level.reason = permission === "denied" ? "denied" : "absent";
        onLevel();
      }
    }, SENSOR_WAIT_MS);
  };
  // iOS asks for motion access, and only from a tap: the first tap on Start the camera.
  const askMotion = async () => {
    if (typeof DeviceOrientationEvent === "undefined") return "absent";
    if (typeof DeviceOrientationEvent.requestPermission !== "function") return "granted";
    try {
      return await DeviceOrientationEvent.requestPermission();
    } catch {
      return "denied";
    }
  };

  // --- the elements ---------------------------------------------------------------------------
  const mode = h(
    "select",
    { id: "capture-mode", name: "mode" },
    h("option", { value: "standing" }, "Standing"),
    h("option", { value: "lunge" }, "Knee-to-wall lunge"),
  );
  const facing = h(
    "select",
    { id: "capture-facing", name: "facing" },
    h("option", { value: "" }, "Auto-detect"),
    h("option", { value: "left" }, "Facing left"),
    h("option", { value: "right" }, "Facing right"),
  );
  const delay = h(
    "select",
    { id: "capture-delay", name: "delay" },
    h("option", { value: "3" }, "3 s"),
    h("option", { value: "10", selected: true }, "10 s"),
    h("option", { value: "20" }, "20 s"),
  );
  const between = h(
    "select",
    { id: "capture-between", name: "between" },
    h("option", { value: "5" }, "5 s"),
    h("option", { value: "8", selected: true }, "8 s"),
    h("option", { value: "15" }, "15 s"),
  );
  // A run of shots is a new visit unless an existing (labelled) visit is picked here.
  const visitPick = h("select", { id: "capture-visit-pick", name: "visit_pick", "aria-describedby": "capture-visit-hint" }, h("option", { value: "" }, "A new visit"));
  const label = h("input", {
    type: "text",
    id: "capture-visit",
    name: "visit",
    maxlength: 64,
    autocomplete: "off",
    placeholder: "the time of the first shot",
    "aria-describedby": "capture-visit-hint",
  });
  let knownVisits = []; // the subject's labelled visits, newest first (the picker's options)
  const visitHint = h("p", { class: "hint", id: "capture-visit-hint" });
  const renderVisitHint = () => {
    const picked = knownVisits.find((v) => v.id === visitPick.value);
    label.disabled = Boolean(picked) || Boolean(running);
    labelField.hidden = Boolean(picked);
    visitHint.textContent = picked
      ? `The ${SHOTS} shots join this visit (its label: ${picked.label}).`
      : `The ${SHOTS} shots form a new visit, labelled by the time of the first shot unless you name it here.`;
  };
  /** The subject's visits (all of them: labels must not repeat), and the picker's options. */
  const loadVisits = async () => {
    const head = await get(`/subjects/${subject.id}/visits`, { limit: 500, offset: 0 });
    let items = head.items;
    for (let offset = items.length; offset < head.total; offset += 500) {
      items = items.concat((await get(`/subjects/${subject.id}/visits`, { limit: 500, offset })).items);
    }
    knownVisits = items.filter((v) => v.label).reverse();
    const keep = visitPick.value;
    visitPick.replaceChildren(
      h("option", { value: "" }, "A new visit"),
      ...knownVisits.slice(0, 20).map((v) => h("option", { value: v.id, "data-mode": v.mode }, `Join: ${visitOption(v)}`)),
    );
    visitPick.value = knownVisits.some((v) => v.id === keep) ? keep : "";
    matchMode();
    return items;
  };
  // Visits group by mode as well as label: only a visit of the chosen mode can be joined.
  const matchMode = () => {
    for (const option of visitPick.options) option.hidden = Boolean(option.dataset.mode) && option.dataset.mode !== mode.value;
    if (visitPick.selectedOptions[0] && visitPick.selectedOptions[0].hidden) visitPick.value = "";
    renderVisitHint();
  };

  const startButton = h("button", { type: "button", class: "btn btn-primary", id: "capture-start" }, icon("camera"), "Start the camera");
  const stopButton = h("button", { type: "button", class: "btn btn-secondary btn-small", id: "capture-stop", hidden: true }, "Stop the camera");
  const startNote = h("div", { class: "capture-note", "aria-live": "polite" });

  const video = h("video", { class: "capture-video", autoplay: true, muted: true, playsinline: true, "aria-label": "The camera's picture, with the framing guide" });
  video.muted = true; // the attribute alone does not mute on every browser, and autoplay needs it
  const guide = guideSvg();
  const countdown = h("div", { class: "capture-countdown", "aria-hidden": "true", hidden: true });

  const bubble = h("span", { class: "level-bubble" });
  const zone = h("span", { class: "level-zone" });
  const tube = h("div", { class: "level-tube", "aria-hidden": "true" }, zone, h("span", { class: "level-mark" }), bubble);
  const rollText = h("output", { class: "level-number", id: "level-number", "aria-live": "off" }, "—");
  const levelBox = h("div", { class: "level", id: "capture-level" }, tube, h("div", { class: "level-readout" }, h("span", { class: "muted small" }, "Camera roll"), rollText));
  const pitchNote = h("p", { class: "capture-pitch", hidden: true });
  // The reason under the shutter follows every reading; only its changes of state are announced (a
  // sensor reports many times a second). It is drawn on the picture's foot, with the lens-pitch hint
  // under the level, so neither pushes the shutter below the screen.
  const why = h("p", { class: "capture-why", id: "capture-why" });
  // The level sits on the picture, as in a camera app: the picture, the bubble and the shutter on one screen.
  const stage = h("div", { class: "capture-stage", hidden: true }, video, guide.svg, levelBox, pitchNote, countdown, why);

  const shutter = h("button", { type: "button", class: "btn btn-primary capture-shutter", id: "capture-shutter", disabled: true, "aria-describedby": "capture-why" }, icon("camera"), `Take ${SHOTS} photos`);
  const cancel = h("button", { type: "button", class: "btn btn-secondary", id: "capture-cancel", hidden: true }, "Cancel");
  const announce = h("p", { class: "visually-hidden", "aria-live": "polite" });
  let announced = null;
  const progressLine = h("p", { class: "capture-progress", id: "capture-progress", "aria-live": "polite" });
  const shotList = h("ol", { class: "shot-list", id: "capture-shots" });
  const result = h("div", { class: "capture-result", id: "capture-result", "aria-live": "polite" });
  const controls = h(
    "div",
    { class: "capture-controls", hidden: true },
    h("div", { class: "capture-actions" }, shutter, cancel, stopButton),
    announce,
    progressLine,
    shotList,
  );

  const labelField = h("div", { class: "field field-wide" }, h("label", { for: "capture-visit" }, "Label of the new visit (optional)"), label);
  const fields = h(
    "div",
    { class: "capture-fields" },
    h("div", { class: "field" }, h("label", { for: "capture-mode" }, "Mode"), mode),
    h("div", { class: "field" }, h("label", { for: "capture-facing" }, "Facing"), facing),
    h("div", { class: "field" }, h("label", { for: "capture-delay" }, "Timer"), delay),
    h("div", { class: "field" }, h("label", { for: "capture-between" }, "Between shots"), between),
    h("div", { class: "field field-wide" }, h("label", { for: "capture-visit-pick" }, "Visit"), visitPick, visitHint),
    labelField,
  );

  const intro = h(
    "div",
    { class: "capture-intro" },
    h(
      "p",
      {},
      "Prop the phone upright at hip height, 2.5–3 m from where the person stands, and level it with the bubble. The shutter starts a timer: step into place, side on, inside the outline with the feet on the line. ",
      `${SHOTS} photos follow a few seconds apart (step off and back on between them); each is sent with the phone's level at that instant.`,
    ),
  );

  // Movement clips (capture_clip.js): the same camera, level gate and timer.
  const clips = clipRecorder(subject, {
    stream: () => stream,
    video,
    stage,
    countdown,
    levelOk: () => Boolean(settings) && levelOk(),
    roll: () => (level.sensor === "live" ? level.roll : null),
    facing: () => facing.value,
    delay: () => Number(delay.value),
    beep: (f, sec) => beeps.beep(f, sec),
    busy: () => Boolean(running),
    changed: () => renderShutter(),
  });
  controls.append(clips.element);

  // --- state and redraw -----------------------------------------------------------------------
  let running = null; // {cancelled, label, wake, cancel}
  let lastLabel = null; // the label of the last visit that stored a shot
  let shots = []; // {n, status: "waiting"|"taken"|"sending"|"done"|"refused", roll, analysis, error}

  const levelOk = () => level.sensor === "none" || (level.sensor === "live" && level.roll !== null && Math.abs(level.roll) <= settings.level_tolerance_deg);

  const renderLevel = () => {
    const tol = settings ? settings.level_tolerance_deg : 1;
    levelBox.dataset.sensor = level.sensor;
    const range = Math.max(5, tol * 5); // the tube spans ±range degrees
    zone.style.width = `${(100 * tol) / range}%`;
    if (level.sensor === "live" && level.roll !== null) {
      const r = level.roll;
      const x = Math.max(-1, Math.min(1, r / range)) * 50;
      bubble.style.left = `calc(50% + ${x.toFixed(2)}% - 9px)`;
      rollText.textContent = `${signed(r, 1)}°`;
      levelBox.classList.toggle("is-level", Math.abs(r) <= tol);
      levelBox.dataset.roll = r.toFixed(2);
      guide.showRoll(r);
    } else {
      rollText.textContent = level.sensor === "none" ? "from the photo" : "—";
      levelBox.classList.remove("is-level");
      delete levelBox.dataset.roll;
      bubble.style.left = "calc(50% - 9px)";
      guide.showRoll(null);
    }
    const pitch = level.pitch;
    if (level.sensor === "live" && pitch !== null && Math.abs(pitch) > PITCH_HINT_DEG) {
      pitchNote.hidden = false;
      pitchNote.textContent = `The lens points ${pitch > 0 ? "up" : "down"} by ${plain(Math.abs(pitch), 0)}°: aim it straight at the hips for the least perspective.`;
    } else {
      pitchNote.hidden = true;
    }
    renderShutter();
  };

  /** Which way to turn the phone, or why its level cannot be read ("" when level). */
  const levelAdvice = () => {
    const tol = settings.level_tolerance_deg;
    if (level.sensor !== "live") return "";
    if (level.roll === null) return "hold the phone upright: lying this flat, its level cannot be read.";
    if (Math.abs(level.roll) <= tol) return "";
    const turn = level.roll > 0 ? "clockwise" : "counterclockwise";
    return `turn it ${turn} by ${plain(Math.abs(level.roll), 1)}°.`;
  };

  const renderShutter = () => {
    clips.onLevel();
    // While the shots run, the progress line says what happens; the shutter's reason would be stale,
    // except while a shot waits for the level: then it says which way to turn.
    if (running) {
      shutter.hidden = true;
      cancel.hidden = false;
      const waiting = Boolean(running.wake) && !levelOk();
      why.hidden = !waiting;
      if (waiting) {
        const text = `Waiting for the phone to be level again: ${levelAdvice()}`;
        if (why.textContent !== text) why.textContent = text;
        if (progressLine.textContent !== text) progressLine.textContent = text;
        why.dataset.state = "blocked";
      }
      return;
    }
    why.hidden = false;
    shutter.hidden = false;
    cancel.hidden = true;
    const missing = SHOTS - shots.filter((x) => x.status === "done").length;
    const again = shots.length > 0 && missing > 0 && missing < SHOTS;
    shutter.replaceChildren(icon("camera"), again ? `Take the missing ${missing === 1 ? "photo" : `${missing} photos`}` : `Take ${SHOTS} photos`);
    const tol = settings.level_tolerance_deg;
    let reason = "";
    if (clips.recording()) reason = "A movement clip is being recorded: the photos wait until it ends.";
    else if (level.sensor === "unknown") reason = "Reading the phone's level…";
    else if (level.sensor === "none") {
      reason =
        level.reason === "denied"
          ? "Motion access was not allowed, so the level will be read from the photo instead (a door frame or a wall corner in the picture helps)."
          : "This device reports no level sensor: the level will be read from the photo instead (a door frame or a wall corner in the picture helps).";
    } else if (level.roll === null) reason = "Hold the phone upright: lying this flat, its level cannot be read.";
    else if (Math.abs(level.roll) > tol) reason = `Level the phone: ${levelAdvice()} The shutter opens within ±${plain(tol, 1)}°.`;
    else reason = `Level (within ±${plain(tol, 1)}°). Press the shutter, then step into place.`;
    shutter.disabled = !levelOk() || clips.recording();
    if (why.textContent !== reason) why.textContent = reason;
    const state = shutter.disabled ? "blocked" : level.sensor === "none" ? "fallback" : "ready";
    why.dataset.state = state;
    if (state !== announced && level.sensor !== "unknown") {
      announced = state;
      announce.textContent =
        state === "ready" ? "The phone is level: the shutter is open." : state === "fallback" ? reason : "The phone is not level: the shutter is closed.";
    }
  };

  const renderShots = () => {
    shotList.replaceChildren(
      ...shots.map((shot) => {
        let text;
        if (shot.status === "waiting") text = "waiting";
        else if (shot.status === "taken") text = "taken, to be sent";
        else if (shot.status === "sending") text = "analysing…";
        else if (shot.status === "done") {
          const overall = shot.analysis.scores.overall;
          text = `${overall !== undefined ? `overall ${overall} / 100` : "analysed"}`;
        } else text = shot.error.message;
        const roll = shot.roll === null ? "level from the photo" : `roll ${signed(shot.roll, 1)}°`;
        return h(
          "li",
          { class: `shot shot-${shot.status}`, "data-status": shot.status },
          h("span", { class: "shot-n" }, `Shot ${shot.n}`),
          h("span", { class: "shot-roll muted small" }, shot.status === "waiting" ? "" : roll),
          h("span", { class: "shot-state" }, text),
        );
      }),
    );
  };

  // Drawn once per frame however often the sensor reports; the waiting shot is woken at once.
  let frameRequested = false;
  onLevel = () => {
    if (running && running.wake && levelOk()) running.wake();
    if (frameRequested) return;
    frameRequested = true;
    requestAnimationFrame(() => {
      frameRequested = false;
      renderLevel();
    });
  };

  // --- the camera -----------------------------------------------------------------------------
  const fitStage = () => {
    const w = video.videoWidth;
    const hgt = video.videoHeight;
    if (!w || !hgt) return;
    stage.style.aspectRatio = `${w} / ${hgt}`;
    stage.style.setProperty("--stage-ratio", String(w / hgt));
    guide.fit(w, hgt);
  };
  video.addEventListener("loadedmetadata", fitStage);
  video.addEventListener("resize", fitStage);

  // The screen stays on while the camera is: the person is away from the phone through the timer and
  // three shots, longer than many phones wait before dimming and locking. The browser drops the lock
  // when the page is hidden; it is asked for again when the page shows.
  let wakeLock = null;
  const keepAwake = async () => {
    if (!stream || !navigator.wakeLock || document.visibilityState !== "visible") return;
    try {
      const lock = await navigator.wakeLock.request("screen");
      // Stop may have been tapped while the request was pending: stopCamera has already run, so the
      // lock is let go here or the screen would stay on with no camera.
      if (!stream) {
        lock.release().catch(() => {});
        wakeLock = null;
        return;
      }
      wakeLock = lock;
    } catch {
      wakeLock = null; // refused (battery saver): the shots still work, the screen may dim
    }
  };
  const onVisible = () => {
    if (stream && document.visibilityState === "visible") keepAwake();
  };
  document.addEventListener("visibilitychange", onVisible);

  const stopCamera = () => {
    if (wakeLock) wakeLock.release().catch(() => {});
    wakeLock = null;
    if (running) {
      running.cancelled = true;
      if (running.cancel) running.cancel();
    }
    clips.stop();
    if (stream) for (const track of stream.getTracks()) track.stop();
    stream = null;
    video.srcObject = null;
    window.removeEventListener("deviceorientation", onOrientation);
    clearTimeout(sensorTimer);
    stage.hidden = true;
    controls.hidden = true;
    stopButton.hidden = true;
    startButton.hidden = false;
  };

  const start = async () => {
    startNote.replaceChildren();
    startButton.disabled = true;
    beeps.unlock();
    // Motion first: iOS grants it only within the tap, which the camera's prompt would use up.
    const motion = await askMotion();
    try {
      if (!settings) settings = await get("/capture");
    } catch (error) {
      startNote.replaceChildren(errorAlert(error));
      startButton.disabled = false;
      return;
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      startNote.replaceChildren(
        noteAlert(
          "The camera needs a secure page: open this page over https (posture serve --ssl-certfile …, see the page guide) or on this computer at localhost. Upload still works.",
          { tone: "warn" },
        ),
      );
      startButton.disabled = false;
      return;
    }
    try {
      // Ideal sizes only: the browser picks the camera's largest mode near them, in the phone's orientation.
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: "environment", width: { ideal: 1920 }, height: { ideal: 1920 } },
      });
    } catch (error) {
      startNote.replaceChildren(noteAlert(cameraProblem(error), { tone: "warn" }));
      startButton.disabled = false;
      return;
    }
    if (!panel.isConnected) {
      stopCamera();
      return;
    }
    video.srcObject = stream;
    video.play().catch(() => {}); // autoplay covers it where play() is refused
    level.sensor = motion === "absent" ? "none" : "unknown";
    level.reason = motion === "absent" ? "absent" : "";
    level.roll = null;
    level.pitch = null;
    if (motion !== "absent" && motion !== "denied") listenLevel(motion);
    else if (motion === "denied") {
      level.sensor = "none";
      level.reason = "denied";
    }
    stage.hidden = false;
    controls.hidden = false;
    stopButton.hidden = false;
    startButton.hidden = true;
    startButton.disabled = false;
    renderLevel();
    renderShots();
    keepAwake();
    stage.scrollIntoView({ block: "start", behavior: "smooth" });
  };

  /** The frame on screen as a JPEG, with the roll read at this instant. */
  const grab = () =>
    new Promise((resolve, reject) => {
      const w = video.videoWidth;
      const hgt = video.videoHeight;
      if (!w || !hgt) {
        reject(new Error("The camera gives no picture yet."));
        return;
      }
      const roll = level.sensor === "live" ? level.roll : null;
      const canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = hgt;
      canvas.getContext("2d").drawImage(video, 0, 0, w, hgt);
      canvas.toBlob((blob) => (blob ? resolve({ blob, roll }) : reject(new Error("The picture could not be encoded."))), "image/jpeg", JPEG_QUALITY);
    });

  const send = async (shot, blob) => {
    const data = new FormData();
    data.append("photo", blob, `capture-${shot.n}.jpg`);
    data.append("mode", mode.value);
    if (facing.value) data.append("facing", facing.value);
    if (shot.roll !== null) {
      data.append("camera_roll_deg", shot.roll.toFixed(2));
      data.append("camera_roll_source", "device");
    }
    data.append("visit", running.label);
    shot.status = "sending";
    renderShots();
    try {
      shot.analysis = await uploadPhoto(subject.id, data).promise;
      shot.status = "done";
    } catch (error) {
      shot.error = error;
      shot.status = "refused";
    }
    renderShots();
  };

  /** Wait `seconds`, showing the countdown after `note` (what was just done); resolves false when cancelled. */
  const wait = (seconds, text, note = "") =>
    new Promise((resolve) => {
      const end = performance.now() + seconds * 1000;
      let shown = null;
      countdown.hidden = false;
      const tick = () => {
        if (!running || running.cancelled) {
          countdown.hidden = true;
          resolve(false);
          return;
        }
        const left = Math.ceil((end - performance.now()) / 1000);
        if (left <= 0) {
          countdown.hidden = true;
          resolve(true);
          return;
        }
        if (left !== shown) {
          shown = left;
          countdown.textContent = String(left);
          progressLine.textContent = `${note ? `${note} ` : ""}${text} in ${left} s.`;
          if (left <= 3) beeps.beep(660);
        }
        setTimeout(tick, 100);
      };
      tick();
    });

  /** Resolves true once the level is within the tolerance (at once without a sensor), false if cancelled. */
  const levelled = () =>
    new Promise((resolve) => {
      if (levelOk()) {
        resolve(true);
        return;
      }
      running.wake = () => {
        running.wake = null;
        renderShutter();
        resolve(true);
      };
      running.cancel = () => resolve(false);
      renderShutter(); // "Waiting for the phone to be level again: turn it clockwise by 2.0°."
    });

  const run = async () => {
    if (running || shutter.disabled || clips.recording()) return;
    beeps.unlock();
    // After a refused shot only the missing ones are taken, with the same label: one visit still.
    const picked = knownVisits.find((v) => v.id === visitPick.value);
    const keep = picked ? [] : shots.filter((x) => x.status === "done");
    const fresh = keep.length === 0 || keep.length >= SHOTS;
    // Which visit: the one of the shots kept, a picked one, or a new one. A new visit's label is made
    // at its first shot (its time), unique among the subject's visits: two runs never share one.
    let visitLabel = null;
    let taken = new Set();
    if (!fresh) visitLabel = lastLabel;
    else {
      if (picked) visitLabel = picked.label;
      else {
        try {
          taken = new Set((await loadVisits()).map((v) => v.label).filter(Boolean));
        } catch (error) {
          result.replaceChildren(errorAlert(error));
          return;
        }
        const typed = label.value.trim();
        if (typed && taken.has(typed)) {
          result.replaceChildren(
            noteAlert(`A visit is already labelled "${typed}". To add these shots to it, pick it under Visit; for a new visit, give another label or none.`, { tone: "warn" }),
          );
          label.focus();
          return;
        }
        visitLabel = typed || null;
      }
    }
    shots = fresh ? [] : keep.map((x, i) => ({ ...x, n: i + 1 }));
    for (let n = shots.length + 1; n <= SHOTS; n++) shots.push({ n, status: "waiting", roll: null, analysis: null, error: null });
    running = { cancelled: false, label: visitLabel, wake: null, cancel: null };
    for (const el of [mode, facing, delay, between, label, visitPick]) el.disabled = true;
    result.replaceChildren();
    renderShutter();
    renderShots();
    const sending = [];
    let first = true;
    let note = "";
    for (const shot of shots) {
      if (shot.status !== "waiting") continue;
      const seconds = Number(first ? delay.value : between.value);
      first = false;
      if (!(await wait(seconds, `Shot ${shot.n} of ${SHOTS}`, note))) break;
      if (!(await levelled())) break;
      if (running.cancelled) break;
      let frame;
      try {
        frame = await grab();
      } catch (error) {
        shot.status = "refused";
        shot.error = error;
        renderShots();
        continue;
      }
      shot.roll = frame.roll;
      shot.status = "taken";
      if (running.label === null) {
        running.label = newVisitLabel(new Date(), taken);
        label.value = running.label;
      }
      renderShots();
      beeps.beep(1320, 0.15);
      // Kept on the line through the next countdown: "Shot 1 of 3 taken: step off… Shot 2 of 3 in 5 s."
      note = `Shot ${shot.n} of ${SHOTS} taken${shot.n < SHOTS ? ": step off and back onto your marks." : "."}`;
      progressLine.textContent = note;
      // Each shot is analysed while the next one's timer runs; one upload at a time keeps their order.
      const previous = sending[sending.length - 1] || Promise.resolve();
      sending.push(previous.then(() => send(shot, frame.blob)));
    }
    const cancelled = running.cancelled;
    progressLine.textContent = cancelled ? "Stopped." : "Analysing the last photos…";
    await Promise.all(sending);
    const used = running.label;
    running = null;
    if (shots.some((x) => x.status === "done")) lastLabel = used;
    for (const el of [mode, facing, delay, between, label, visitPick]) el.disabled = false;
    // The next run is a new visit again, with its own label (the missing shots keep this one).
    visitPick.value = "";
    label.value = "";
    loadVisits().catch(() => {});
    for (const shot of shots) {
      if (shot.status !== "waiting") continue;
      shot.status = "refused";
      shot.error = { message: "not taken" };
    }
    renderShots();
    renderShutter();
    await finish(cancelled);
  };

  const finish = async (cancelled) => {
    const done = shots.filter((x) => x.status === "done");
    const refused = shots.filter((x) => x.status === "refused" && x.error && x.error.code);
    const parts = [];
    for (const shot of refused) parts.push(errorAlert(shot.error, {}));
    if (!done.length) {
      progressLine.textContent = cancelled ? "Stopped: no photo was taken." : "No photo was stored.";
      result.replaceChildren(...parts);
      return;
    }
    const last = done[done.length - 1].analysis;
    let visit = null;
    try {
      visit = await get(`/visits/${last.visit_id}`);
    } catch (error) {
      parts.push(errorAlert(error));
    }
    progressLine.textContent = done.length === SHOTS ? `All ${SHOTS} photos are stored as one visit.` : `${done.length} of ${SHOTS} photos stored.`;
    if (visit) parts.unshift(visitSummary(visit, done));
    result.replaceChildren(...parts);
    // Back at the phone after the last shot: the visit's result is what to see.
    result.scrollIntoView({ block: "start", behavior: "smooth" });
    toast(done.length === SHOTS ? "Visit stored: its median is below the camera." : "Photos stored.");
    try {
      const central = visit && done.find((x) => x.analysis.id === visit.central_analysis_id);
      await onUploaded(central ? central.analysis : last);
    } catch {
      // the shots are stored; the page's refresh shows its own error
    }
  };

  const visitSummary = (visit, done) => {
    const overall = visit.scores.overall;
    const rows = KEY_TRENDS.filter((name) => visit.measures[name] !== null && visit.measures[name] !== undefined).map((name) =>
      h(
        "tr",
        { "data-measure": name },
        h("th", { scope: "row" }, measureLabel(name)),
        h("td", { class: "value" }, formatMeasure(name, visit.measures[name])),
        h("td", { class: "muted" }, spreadText(name, visit.spread[name])),
      ),
    );
    const rolls = done.map((x) => (x.roll === null ? "from the photo" : `${signed(x.roll, 1)}°`)).join(", ");
    const central = done.find((x) => x.analysis.id === visit.central_analysis_id);
    return h(
      "div",
      { class: "visit-summary", "data-visit": visit.id },
      h("h3", {}, `Visit of ${formatDate(visit.taken_at)}${formatTime(visit.taken_at) ? `, ${formatTime(visit.taken_at)}` : ""}`),
      h(
        "p",
        { class: "visit-score" },
        `Median of ${visit.n} ${visit.n === 1 ? "shot" : "shots"}: `,
        h("strong", { "data-test": "visit-overall" }, overall !== undefined && overall !== null ? `${Math.round(overall)} / 100` : "not scored"),
        " ",
        visit.band ? bandChip(visit.band) : null,
      ),
      h("p", { class: "muted small" }, `Camera roll at each shot: ${rolls}.`),
      rows.length ? h("table", { class: "visit-measures" }, h("caption", { class: "visually-hidden" }, "The visit's median measures"), h("tbody", {}, rows)) : null,
      central
        ? h("p", {}, h("a", { href: `#/subjects/${subject.id}/analyses/${central.analysis.id}` }, "Open the shot nearest the median"))
        : null,
    );
  };

  facing.addEventListener("change", () => guide.face(facing.value === "left"));
  // Picking a visit, or naming a new one, starts a run of its own: the missing shots of the last run
  // are not taken (the shutter says "Take 3 photos" again).
  const newRun = () => {
    if (running || !shots.length) return;
    shots = [];
    renderShots();
    if (settings) renderShutter();
  };
  visitPick.addEventListener("change", () => {
    if (visitPick.value) newRun();
    renderVisitHint();
  });
  label.addEventListener("input", newRun);
  mode.addEventListener("change", matchMode);
  renderVisitHint();
  loadVisits().catch(() => {}); // the picker lists the subject's labelled visits once they are read
  startButton.addEventListener("click", start);
  stopButton.addEventListener("click", stopCamera);
  shutter.addEventListener("click", run);
  cancel.addEventListener("click", () => {
    if (!running) return;
    running.cancelled = true;
    if (running.cancel) running.cancel();
  });
  const onTurn = () => {
    recompute();
    onLevel();
  };
  window.addEventListener("orientationchange", onTurn);
  if (screen.orientation && screen.orientation.addEventListener) screen.orientation.addEventListener("change", onTurn);
  // The camera stops when the page moves elsewhere (the panel leaves the document); the listeners on
  // window, document and screen go with it, or each panel built would keep them and its closures alive.
  const onHash = () => {
    if (panel.isConnected) return;
    stopCamera();
    window.removeEventListener("hashchange", onHash);
    document.removeEventListener("visibilitychange", onVisible);
    window.removeEventListener("orientationchange", onTurn);
    if (screen.orientation && screen.orientation.removeEventListener) screen.orientation.removeEventListener("change", onTurn);
  };
  window.addEventListener("hashchange", onHash);

  const panel = h(
    "div",
    { class: "capture", id: "capture-panel" },
    intro,
    fields,
    h("div", { class: "capture-start" }, startButton),
    startNote,
    stage,
    controls,
    result,
  );
  return { element: panel, stop: stopCamera };
}
