// The only module that knows the drawings' URLs and the shape of their JSON (app/drawings/).
// The teacher's requests carry the token as Authorization: Bearer, never in a URL.

export class Refused extends Error {}

async function send(path, { token, method = "GET", body, raw = false, headers = {} } = {}) {
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new Refused("the server cannot be reached");
  }
  if (!response.ok) {
    const detail = (await response.json().catch(() => ({}))).detail;
    throw Object.assign(new Refused(typeof detail === "string" ? detail : `the server answered ${response.status}`),
      { status: response.status, retryAfter: Number(response.headers.get("Retry-After")) || null });
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

// A drawing (28 rows of 28 numbers in [0, 1]) and the digit meant -> { id, label, answer, probability, repeated }.
// The key makes a retried save count once.
export const save = (grid, label, key) => send("/drawings", {
  method: "POST",
  body: { image: grid, label },
  headers: key ? { "Idempotency-Key": key } : {},
});

// -> { items: [{ id, created_at, label, answer, probability, weights_sha256, pixels }], next }
export function list(token, { digit = null, wrong = false, cursor = null, limit = 60 } = {}) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (digit !== null) query.set("digit", String(digit));
  if (wrong) query.set("wrong", "true");
  if (cursor) query.set("cursor", cursor);
  return send(`/drawings?${query}`, { token });
}

// -> { total, counts, accuracy, confusion, served_sha256, answered_by_served }
export const summary = (token) => send("/drawings/summary", { token });

export const remove = (token, id) => send(`/drawings/${encodeURIComponent(id)}`, { token, method: "DELETE" });

// Many at once: { ids: [1, 2] } or { minutes, through }; dryRun deletes nothing -> { matched, deleted, through }
export function removeMany(token, { ids = null, minutes = null, through = null, dryRun = false }) {
  const query = new URLSearchParams();
  if (ids) query.set("ids", ids.join(","));
  if (minutes) query.set("minutes", String(minutes));
  if (through) query.set("through", String(through));
  if (dryRun) query.set("dry_run", "true");
  return send(`/drawings?${query}`, { token, method: "DELETE" });
}

// format "npz" or "idx" -> a Blob of the file, and its name
export async function exported(token, format) {
  const response = await send(`/drawings/export?format=${format}`, { token, raw: true });
  return { blob: await response.blob(), name: format === "npz" ? "drawings.npz" : "drawings-idx.zip" };
}

// { seed, steps } starts fine-tuning from the served network, { resume, steps } continues ->
// { step, losses, drawings, held_out, before: { class, mnist }, after: { class, mnist }, resume, params }
export const tune = (token, request) => send("/drawings/tune", { token, method: "POST", body: request });

// The tuned copy as a weights file for CNN_WEIGHTS (a zip of class-copy.npz and class-copy.json)
export async function weightsFile(token, params, steps, drawings) {
  const response = await send("/drawings/weights", { token, method: "POST", body: { params, steps, drawings }, raw: true });
  return { blob: await response.blob(), name: "class-copy.zip" };
}

// The tuned copy as ONNX, where the service can export it (POST /model.onnx); null where it cannot.
export async function onnxFile(params) {
  const response = await fetch("/model.onnx", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ params }),
  }).catch(() => null);
  if (!response || !response.ok) return null;
  return { blob: await response.blob(), name: "class-copy.onnx" };
}

// Whether the service exports ONNX at all (GET /model.onnx is there, a few kilobytes)
export async function exportsOnnx() {
  const response = await fetch("/model.onnx").catch(() => null);
  return Boolean(response && response.ok);
}
