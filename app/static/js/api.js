// The HTTP API (/api/v1): JSON requests, authenticated image downloads as blob URLs, and the photo
// upload through XMLHttpRequest (the only browser API that reports upload progress).
//
// The API key lives in sessionStorage only: it is forgotten when the tab closes, never written to
// localStorage or a cookie.

export const API = "/api/v1";
const STORAGE_KEY = "posture-profile.api-key";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let unauthorizedHandler = null;

/** Called with the error when a request answers 401 (the key was revoked or is wrong). */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

export function getKey() {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function setKey(key) {
  sessionStorage.setItem(STORAGE_KEY, key);
}

export function clearKey() {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage disabled: nothing was kept
  }
  forgetImages();
}

function authHeaders(key = getKey()) {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function networkError() {
  return new ApiError(
    0,
    "network_error",
    "The server could not be reached. Check the connection and that the server is running.",
  );
}

function errorFromBody(status, body, fallback) {
  const code = body && typeof body.code === "string" ? body.code : `http_${status}`;
  const message = body && typeof body.message === "string" ? body.message : fallback;
  return new ApiError(status, code, message);
}

async function errorFrom(response, { quiet401 = false } = {}) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's error page): keep the status
  }
  const error = errorFromBody(response.status, body, response.statusText || "The request failed.");
  if (response.status === 401 && !quiet401 && unauthorizedHandler) unauthorizedHandler(error);
  return error;
}

function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined) params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * Every fetch of the page goes through here: the key is added (`key` overrides the stored one, null
 * sends none), a failed connection or an error answer becomes an ApiError, and a 401 signs out unless
 * `quiet401`. `anyStatus` hands back error answers too (the health check reads its 503 body).
 */
async function send(path, { method = "GET", headers = {}, body, key, quiet401 = false, anyStatus = false } = {}) {
  let response;
  try {
    response = await fetch(API + path, { method, headers: { ...headers, ...authHeaders(key) }, body });
  } catch {
    throw networkError();
  }
  if (!response.ok && !anyStatus) throw await errorFrom(response, { quiet401 });
  return response;
}

/**
 * A JSON request. `query` values that are null are left out; `body` is sent as JSON.
 * `key` overrides the stored key (sign-in checks a key before keeping it).
 */
export async function request(method, path, { query, body, key, quiet401 = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await send(withQuery(path, query), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    key,
    quiet401: quiet401 || key !== undefined,
  });
  if (response.status === 204) return null;
  return response.json();
}

/** The server's readiness, `{status, detail}` (status "ok", "starting", ...), without a key. */
export async function health() {
  const response = await send("/health", { headers: { Accept: "application/json" }, key: null, anyStatus: true });
  return response.json().catch(() => ({}));
}

export const get = (path, query) => request("GET", path, { query });

/** Every item of a paginated collection (`{items, total, limit, offset}`), page by page. */
export async function getAll(path, query = {}) {
  const items = [];
  for (let offset = 0; ; ) {
    const page = await get(path, { ...query, limit: 500, offset });
    items.push(...page.items);
    offset += page.items.length;
    if (page.items.length === 0 || offset >= page.total) return items;
  }
}

// Images need the Authorization header, so an <img src> cannot load them directly: they are fetched,
// kept as blob URLs for the session (they never change: content-addressed), and revoked on sign-out.
const images = new Map();

export function imageUrl(path) {
  if (!images.has(path)) {
    const promise = send(path).then(async (response) => URL.createObjectURL(await response.blob()));
    images.set(path, promise);
    promise.catch(() => images.delete(path));
  }
  return images.get(path);
}

function forgetImages() {
  for (const promise of images.values()) {
    promise.then((url) => URL.revokeObjectURL(url)).catch(() => {});
  }
  images.clear();
}

/** Download an authenticated file (CSV or JSON export) under `filename`. */
export async function download(path, filename) {
  const response = await send(path);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Upload a photo (multipart `FormData` with `photo` and the optional fields) to a subject's history.
 * Returns `{promise, abort}`; `onProgress(fraction)` follows the upload, `onUploaded()` fires when the
 * last byte has left and the server is analysing.
 */
export function uploadPhoto(subjectId, formData, options = {}) {
  return uploadMultipart(`/subjects/${encodeURIComponent(subjectId)}/analyses`, formData, options);
}

/**
 * Upload a movement clip (multipart `FormData` with `clip`, `test` and the optional fields): as
 * `uploadPhoto`, but the promise resolves with the job to poll (`{job}`, 202) once the clip is in.
 */
export function uploadClip(subjectId, formData, options = {}) {
  return uploadMultipart(`/subjects/${encodeURIComponent(subjectId)}/movements`, formData, options);
}

function uploadMultipart(path, formData, { onProgress, onUploaded } = {}) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open("POST", `${API}${path}`);
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    });
    xhr.upload.addEventListener("load", () => onUploaded && onUploaded());
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(xhr.response);
        return;
      }
      const error = errorFromBody(xhr.status, xhr.response, xhr.statusText || "The upload failed.");
      if (xhr.status === 401 && unauthorizedHandler) unauthorizedHandler(error);
      reject(error);
    });
    xhr.addEventListener("error", () => reject(networkError()));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "cancelled", "The upload was cancelled.")));
    xhr.send(formData);
  });
  return { promise, abort: () => xhr.abort() };
}
