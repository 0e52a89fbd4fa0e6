// ocrgw playground: the small client of the native /v1 API it uses (and nothing else). URLs are
// relative to the page, so a gateway served under a path prefix by a proxy works unchanged.

/** An error answer of the native API, or a network failure, with what the person should see. */
export class ApiError extends Error {
  constructor(status, code, message, param) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param;
  }

  describe() {
    const where = this.param ? ` (${this.param})` : "";
    const status = this.status ? `HTTP ${this.status} ` : "";
    return `${status}${this.code}: ${this.message}${where}`;
  }
}

const url = (path) => new URL(path, document.baseURI).toString();

async function failure(response) {
  // The native envelope is {"error": {"code", "message", "param"?}}; anything else is shown as is.
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  const err = body && body.error;
  if (err && err.code) return new ApiError(response.status, err.code, err.message || "", err.param);
  return new ApiError(response.status, "HttpError", response.statusText || "The request failed.");
}

async function call(path, { key, method = "GET", body, headers = {} } = {}) {
  const all = { ...headers };
  if (key) all["X-API-Key"] = key;
  let response;
  try {
    response = await fetch(url(path), { method, body, headers: all, cache: "no-store" });
  } catch (exc) {
    throw new ApiError(0, "NetworkError", `Could not reach the server: ${exc.message}`);
  }
  if (!response.ok) throw await failure(response);
  return response;
}

/** GET /v1/languages: installed models and the BCP-47 codes that pick each (no key needed). */
export async function languages() {
  return (await call("v1/languages")).json();
}

/** POST /v1/jobs with the file as multipart `file`, or JSON {url} when there is no file. */
export async function submit(key, { file, docUrl, options }) {
  if (file) {
    const form = new FormData();
    form.append("file", file, file.name);
    for (const [name, value] of Object.entries(options)) form.append(name, String(value));
    return (await call("v1/jobs", { key, method: "POST", body: form })).json();
  }
  const body = JSON.stringify({ url: docUrl, ...options });
  return (await call("v1/jobs", { key, method: "POST", body, headers: { "Content-Type": "application/json" } }))
    .json();
}

/** GET /v1/jobs/{id}: status and progress. */
export async function job(key, id) {
  return (await call(`v1/jobs/${encodeURIComponent(id)}`, { key })).json();
}

/** GET /v1/jobs/{id}/result (JSON): pages, lines, words, boxes, confidences, text. */
export async function result(key, id) {
  return (await call(`v1/jobs/${encodeURIComponent(id)}/result`, { key })).json();
}

/** GET /v1/jobs/{id}/result?format=...: an export as a Blob typed by the answer's Content-Type. */
export async function exportBlob(key, id, format) {
  const response = await call(`v1/jobs/${encodeURIComponent(id)}/result?format=${format}`, { key });
  return response.blob();
}
