// Words for the API's names and codes: measures (label, unit, sign), areas, bands, warnings, reasons
// and refusal codes. The meaning of every number is in docs/measures.md; the hints here are its
// one-line summaries. Sign convention: + = forward / anterior, person seen as facing right.

import { plain, signed } from "./dom.js";

/**
 * unit: shown after the value; signed: + and − are meaningful (show an explicit +);
 * estimate: a silhouette estimate (pelvic tilt, lumbar curve), always labelled so.
 */
export const MEASURES = {
  overall_score: { label: "Overall score", unit: "", decimals: 0, hint: "0–100, higher is closer to the usual ranges" },
  pelvic_tilt_deg: {
    label: "Pelvic tilt",
    estimate: true,
    unit: "°",
    decimals: 1,
    signed: true,
    hint: "+ = tilted forward (anterior), from the back outline",
  },
  lumbar_lordosis_deg: {
    label: "Lumbar curve",
    estimate: true,
    unit: "°",
    decimals: 1,
    hint: "depth of the lower-back hollow; larger = deeper",
  },
  lumbar_lordosis_index: {
    label: "Lumbar curve index",
    estimate: true,
    unit: "",
    decimals: 1,
    hint: "hollow depth as a share of its length (×100)",
  },
  shank_angle_deg: { label: "Shin angle", unit: "°", decimals: 1, signed: true, hint: "+ = knee ahead of the ankle" },
  knee_angle_deg: {
    label: "Knee angle",
    unit: "°",
    decimals: 1,
    signed: true,
    hint: "0 = straight, + = bent, − = locked back",
  },
  knee_over_foot_pct: {
    label: "Knee over foot",
    unit: "%",
    decimals: 0,
    signed: true,
    hint: "knee ahead of the ankle, in % of foot length",
  },
  lunge_tibia_deg: {
    label: "Lunge shin angle",
    unit: "°",
    decimals: 1,
    hint: "knee-to-wall lunge; below 36.5° counts as restricted",
  },
  heel_lift: { label: "Heel lift", unit: "", decimals: 0, hint: "the heel must stay down in the lunge" },
  trunk_lean_deg: { label: "Trunk lean", unit: "°", decimals: 1, signed: true, hint: "+ = shoulder ahead of the hip" },
  head_forward_deg: {
    label: "Head forward",
    unit: "°",
    decimals: 1,
    signed: true,
    hint: "+ = ear ahead of the shoulder (not a CVA)",
  },
  body_line_deg: { label: "Body line", unit: "°", decimals: 1, signed: true, hint: "+ = shoulder ahead of the ankle" },
  hip_angle_deg: {
    label: "Hip angle",
    unit: "°",
    decimals: 1,
    signed: true,
    hint: "+ = trunk inclined forward of the thigh",
  },
  plumb_ear_pct: { label: "Ear to plumb line", unit: "%", decimals: 1, signed: true, hint: "% of height; + = in front" },
  plumb_shoulder_pct: {
    label: "Shoulder to plumb line",
    unit: "%",
    decimals: 1,
    signed: true,
    hint: "% of height; + = in front",
  },
  plumb_hip_pct: { label: "Hip to plumb line", unit: "%", decimals: 1, signed: true, hint: "% of height; + = in front" },
  plumb_knee_pct: { label: "Knee to plumb line", unit: "%", decimals: 1, signed: true, hint: "% of height; + = in front" },
};

/** Measures grouped as in docs/measures.md, for the analysis panel. */
export const MEASURE_GROUPS = [
  { title: "Pelvis and lower back", names: ["pelvic_tilt_deg", "lumbar_lordosis_deg", "lumbar_lordosis_index"] },
  {
    title: "Ankle and knee",
    names: ["shank_angle_deg", "knee_angle_deg", "knee_over_foot_pct", "lunge_tibia_deg", "heel_lift"],
  },
  { title: "Standing alignment", names: ["trunk_lean_deg", "head_forward_deg", "body_line_deg", "hip_angle_deg"] },
  { title: "Plumb line (ankle vertical)", names: ["plumb_ear_pct", "plumb_shoulder_pct", "plumb_hip_pct", "plumb_knee_pct"] },
];

/** Trend charts shown first (the scored measures), the rest under "More measures". */
export const KEY_TRENDS = [
  "pelvic_tilt_deg",
  "lumbar_lordosis_deg",
  "shank_angle_deg",
  "knee_angle_deg",
  "lunge_tibia_deg",
  "trunk_lean_deg",
  "head_forward_deg",
  "body_line_deg",
];

export const AREAS = {
  pelvic_tilt: { label: "Pelvic tilt", estimate: true },
  lumbar_curve: { label: "Lumbar curve", estimate: true },
  ankle_knee: { label: "Ankle and knee" },
  alignment: { label: "Alignment" },
};

export const BANDS = {
  good: "Good",
  mild: "Mild",
  marked: "Marked",
};

export const WARNINGS = {
  multiple_people: "More than one person is in the photo; the most prominent one was measured.",
  mirror_pass_disagrees:
    "The model's passes on the photo and its mirror image disagreed: read this photo's numbers with care.",
  facing_override_disagrees: "The facing you chose disagrees with the direction the model detected.",
  facing_uncertain: "The facing direction was uncertain: if the numbers look odd, upload again with the facing set.",
  camera_level_unknown:
    "The camera's tilt could not be read from the photo: keep the phone level, or enter its roll when you upload.",
  camera_level_disagrees:
    "The camera roll you entered disagrees with the tilt read from the photo: check the phone's level.",
  clip_truncated: "The clip could not be decoded to its end (damaged or cut short); the frames before the break were analysed.",
  rotation_ignored: "The clip's rotation metadata is not a quarter turn; it was ignored and the frames analysed as stored.",
  not_standing_still:
    "The person is not standing still on both feet (mid-stride or on one foot): pelvis, lumbar curve and alignment are measured but not scored. Stand still, weight on both feet, feet side by side.",
  frames_failed: "Some frames of the clip could not be measured (listed with the result); the others were.",
  heel_lifted:
    "The front heel left the floor in some frames: those frames do not count for the lunge's peak shin angle.",
  reps_not_the_test:
    "Some dips of the hip did not have the knee-to-wall shape (front foot in place, knee driven forward over it): they were left out of the reps.",
  measure_implausible:
    "A number is outside what this test can give: it is shown, but not scored and no finding is drawn from it.",
  mode_differs: "One photo is standing and the other a lunge: most measures cannot be compared.",
  rules_version_differs: "The two photos were scored with different rules versions: scores may differ for that reason.",
  model_differs: "The two photos were analysed with different pose models: differences may come from the model.",
  mixed_versions:
    "These photos were analysed by different versions of the method: re-analyse the history (posture history reanalyze) before reading differences as change.",
};

/** The areas a photo taken mid-stride is not scored on (`not_standing_still`): rules.toml [stance] withheld_areas. */
export const NOT_STANDING_AREAS = ["pelvic_tilt", "lumbar_curve", "alignment"];

/** How the camera's level was found (`camera_level.source`); `hint_deg` is rules.toml [camera_level]. */
export const CAMERA_LEVEL = {
  hint_deg: 2,
  sources: {
    given: "as entered",
    device: "read by the phone's level at the shot",
    background: "read from the room's lines",
    floor: "read from the floor under the feet",
    none: "not known",
  },
};

/** One line on the camera's level of a photo, and a hint when the phone was held off level. */
export function cameraLevelText(a) {
  const level = a.camera_level;
  if (!level) return { text: "", hint: "" };
  const roll = a.camera_roll_deg || 0;
  let text;
  if (level.source === "none") {
    text = (a.warnings || []).includes("camera_level_unknown")
      ? "Camera level: not found in the photo; the photo's frame is taken as upright."
      : "Camera level: off; the photo's frame is taken as upright.";
  } else {
    const how = CAMERA_LEVEL.sources[level.source] || level.source;
    const sure = level.source === "given" || level.source === "device" ? "" : ` (confidence ${level.confidence.toFixed(2)})`;
    const share = level.applied_share === null || level.applied_share === undefined ? 1 : level.applied_share;
    if (share < 1 && level.roll_deg !== null && level.roll_deg !== undefined) {
      // One answer: the estimate and the part of it applied, and why they differ.
      text =
        `Camera level: roll ${signed(level.roll_deg, 1)}° ${how}${sure}; ${signed(roll, 1)}° of it ` +
        `(${Math.round(share * 100)} %) corrected before measuring: an estimate this unsure is applied in part.`;
    } else {
      text = `Camera level: roll ${signed(roll, 1)}° ${how}${sure}, corrected before measuring.`;
    }
  }
  const off = level.roll_deg === null || level.roll_deg === undefined ? 0 : Math.abs(level.roll_deg);
  const hint =
    off > CAMERA_LEVEL.hint_deg
      ? `The phone was tilted by ${plain(off, 1)}°: hold it level for the next photo (a level app or the camera's grid helps).`
      : "";
  return { text, hint };
}

export const NOT_MEASURED = {
  no_silhouette: "no body outline found",
  back_not_visible: "back outline hidden (arms, hair or clothing)",
  foot_not_visible: "foot not visible",
  not_lunge_mode: "lunge photos only",
};

/** Short titles for refusal and error codes; the API's message says what to do. */
/**
 * Movement tests (posture.analyze_clip): the headline measures of a squat or knee-to-wall lunge clip
 * (medians over the reps; docs/measures.md), the per-frame curves and the tests themselves.
 */
export const MOVEMENT_MEASURES = {
  squat_depth_pct: { label: "Squat depth", unit: "%", decimals: 0, hint: "hip drop from standing to the bottom, % of standing hip height" },
  squat_hip_below_knee_pct: {
    label: "Hip below knee",
    unit: "%",
    decimals: 0,
    signed: true,
    hint: "hip height minus knee height at the bottom, % of standing hip height; + = hip below the knee",
  },
  squat_shin_peak_deg: { label: "Peak shin angle", unit: "°", decimals: 1, hint: "shin forward of vertical at the deepest point: a proxy for ankle dorsiflexion" },
  squat_heel_lift_pct: { label: "Heel lift", unit: "%", decimals: 0, hint: "heel rise at depth, % of foot length" },
  squat_trunk_lean_deg: { label: "Trunk lean", unit: "°", decimals: 1, hint: "trunk forward of vertical at depth" },
  squat_trunk_shin_diff_deg: {
    label: "Trunk − shin",
    unit: "°",
    decimals: 1,
    signed: true,
    hint: "trunk lean minus shin angle at depth; + = the trunk leans more than the shin",
  },
  squat_knee_past_toe_pct: { label: "Knee past toes", unit: "%", decimals: 0, signed: true, hint: "+ = knee ahead of the toes at depth, % of foot length" },
  squat_pelvic_change_deg: {
    label: "Pelvic change",
    estimate: true,
    unit: "°",
    decimals: 1,
    signed: true,
    hint: "pelvic estimate at the bottom minus standing; − = a tuck at depth",
  },
  lunge_shin_peak_deg: { label: "Peak shin angle", unit: "°", decimals: 1, hint: "front shin from vertical with the heel down: the knee-to-wall reading" },
  lunge_shin_peak_left_deg: { label: "Peak shin angle, left", unit: "°", decimals: 1, hint: "left leg in front" },
  lunge_shin_peak_right_deg: { label: "Peak shin angle, right", unit: "°", decimals: 1, hint: "right leg in front" },
  lunge_asymmetry_deg: { label: "Left–right difference", unit: "°", decimals: 1, hint: "between the two sides' peak shin angles" },
  lunge_heel_lift_pct: { label: "Heel lift", unit: "%", decimals: 0, hint: "front heel rise, % of foot length" },
};

/** The per-frame curves of a movement (`series`), against `time_s`. */
export const MOVEMENT_SERIES = {
  shin_deg: { label: "Shin angle", unit: "°" },
  hip_height_pct: { label: "Hip height", unit: "%" },
  trunk_lean_deg: { label: "Trunk lean", unit: "°" },
  heel_rise_pct: { label: "Heel rise", unit: "%" },
  knee_past_toe_pct: { label: "Knee past toes", unit: "%" },
};

export const MOVEMENT_TESTS = {
  squat: { label: "Squat", headline: "squat_shin_peak_deg" },
  lunge: { label: "Knee-to-wall lunge", headline: "lunge_shin_peak_deg" },
};

/** Titles of a movement job's own errors (stored with the job, not answered by a request). */
export const JOB_ERROR_TITLES = {
  job_interrupted: "The server stopped during the analysis",
  clip_missing: "The stored clip is missing",
};

export const ERROR_TITLES = {
  // The photo, refused by the quality gate.
  not_side_view: "Not a side view",
  no_person: "No person found",
  body_cropped: "Part of the body is cut off",
  too_small: "The person is too small in the photo",
  low_visibility: "The body is not clearly visible",
  // The file or the request.
  unreadable_image: "The file cannot be read",
  unsupported_format: "Unsupported file type",
  unsupported_media_type: "Unsupported upload",
  file_too_large: "The file is too large",
  request_too_large: "The file is too large",
  image_too_large: "The image is too large",
  decompression_bomb: "The image is too large",
  invalid_option: "Invalid option",
  // A movement clip (posture.movement).
  clip_unreadable: "The clip could not be read",
  clip_too_long: "The clip is too long",
  clip_too_short: "The clip is too short",
  clip_frame_too_large: "The clip's frames are too large",
  clip_too_heavy: "The clip is too much to analyse",
  clip_truncated: "The clip ends early",
  no_movement: "No rep was found in the clip",
  person_left_frame: "The person left the picture",
  not_side_on: "Not filmed side on",
  not_the_test: "The clip is not the test",
  invalid_request: "Invalid request",
  malformed_request: "Invalid request",
  duplicate_field: "A field was sent twice",
  headers_too_large: "Invalid request",
  request_timeout: "The upload took too long",
  method_not_allowed: "Not allowed",
  different_subjects: "Photos of different subjects",
  different_tests: "Movements of different tests",
  invalid_visit_label: "Invalid visit label",
  // The API key.
  missing_api_key: "No API key",
  invalid_api_key: "Key not accepted",
  revoked_api_key: "Key revoked",
  // Something that is not there.
  not_found: "Not found",
  subject_not_found: "Subject not found",
  analysis_not_found: "Photo not found",
  visit_not_found: "Visit not found",
  job_not_found: "Upload job not found",
  movement_not_found: "Movement not found",
  // The programme log and its calendar feed (issue 24).
  programme_not_found: "Programme not found",
  exercise_not_found: "Exercise not found",
  calendar_not_found: "Calendar link not valid (replaced or turned off)",
  invalid_programme_dates: "The end date is before the start date",
  tick_in_future: "That day has not come yet",
  too_many_exercises: "Too many exercises",
  deepest_frame_not_stored: "No image of the deepest frame was kept",
  deepest_frame_missing: "The stored image of the deepest frame is missing",
  photo_not_stored: "The photo was not kept",
  overlay_not_stored: "No overlay was kept",
  photo_missing: "The stored photo is missing",
  overlay_missing: "The stored overlay is missing",
  no_analyses_in_window: "No photos in this period",
  // The server.
  analysis_failed: "The analysis failed",
  busy: "The server is busy",
  model_unavailable: "The analysis is unavailable",
  analysis_unavailable: "The analysis is unavailable",
  job_interrupted: "The server stopped during the analysis",
  database_unavailable: "The database is unavailable",
  internal_error: "Something went wrong on the server",
  // Made by the page itself.
  network_error: "No connection",
  cancelled: "Upload cancelled",
  recording_failed: "The clip could not be recorded",
};

export function measureLabel(name) {
  return (MEASURES[name] && MEASURES[name].label) || name;
}

function unitText(meta) {
  return meta.unit === "%" ? "\u202f%" : meta.unit;
}

/** A measure's value with its unit: "+10.7°", "43.9°", "+38 %", "heel down". */
export function formatMeasure(name, value) {
  if (value === null || value === undefined) return "\u2014";
  const meta = MEASURES[name] || { unit: "", decimals: 1 };
  if (name === "heel_lift") return value ? "heel lifted" : "heel down";
  const number = meta.signed ? signed(value, meta.decimals) : plain(value, meta.decimals);
  return number + unitText(meta);
}

/** A change with explicit sign: "+0.4°", "−6 points". */
export function formatChange(name, value) {
  if (value === null || value === undefined) return "\u2014";
  const meta = MEASURES[name] || { unit: "", decimals: 1 };
  if (name === "overall_score") {
    const n = Math.round(value);
    return `${signed(n, 0)} ${Math.abs(n) === 1 ? "point" : "points"}`;
  }
  const decimals = Math.max(meta.decimals, 1);
  return signed(value, decimals) + unitText(meta);
}

/** The noise half-width: "±4°", "±8 points". */
export function formatNoise(name, noise) {
  if (noise === null || noise === undefined) return "";
  const meta = MEASURES[name] || { unit: "", decimals: 1 };
  const number = Number.isInteger(noise) ? String(noise) : noise.toFixed(1);
  if (name === "overall_score") return `\u00b1${number} points`;
  return `\u00b1${number}${unitText(meta)}`;
}
