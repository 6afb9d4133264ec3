// The drawings' endpoints (app/drawings/): their URLs and the shape of their JSON, over http.js.
// The teacher's requests carry the token as Authorization: Bearer, never in a URL.
import { onnx } from "./api.js";
import { open, request } from "./http.js";

export { Refused } from "./http.js";

// A request of the drawings' endpoints: the answer's JSON,
// null for a 204, a Blob with as: "blob"; a refusal as Refused with the server's sentence.
export const send = (path, { body, ...options } = {}) => request(path, { json: body, ...options });

// A drawing (28 rows of 28 numbers in [0, 1]) and the digit meant -> { id, label, answer, probability, repeated }.
// The key makes a retried save count once; a class's code saves into that class (409 while it is paused).
export const save = (grid, label, key, classCode = null) => send("/drawings", {
  method: "POST",
  body: classCode ? { image: grid, label, class: classCode } : { image: grid, label },
  headers: key ? { "Idempotency-Key": key } : {},
});

// -> { items: [{ id, created_at, label, answer, probability, weights_sha256, pixels }], next }
export function list(token, { digit = null, wrong = false, cursor = null, limit = 60, classCode = null } = {}) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (classCode) query.set("class", classCode);
  if (digit !== null) query.set("digit", String(digit));
  if (wrong) query.set("wrong", "true");
  if (cursor) query.set("cursor", cursor);
  return send(`/drawings?${query}`, { token });
}

// -> { total, counts, accuracy, confusion, served_sha256, answered_by_served }
export const summary = (token, classCode = null) =>
  send(classCode ? `/drawings/summary?class=${encodeURIComponent(classCode)}` : "/drawings/summary", { token });

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
export async function exported(token, format, classCode = null) {
  const only = classCode ? `&class=${encodeURIComponent(classCode)}` : "";
  const blob = await send(`/drawings/export?format=${format}${only}`, { token, as: "blob" });
  return { blob, name: format === "npz" ? "drawings.npz" : "drawings-idx.zip" };
}

// { seed, steps } starts fine-tuning from the served network, { resume, steps } continues ->
// { step, losses, drawings, held_out, before: { class, mnist }, after: { class, mnist }, resume, params }
export const tune = (token, run) => send("/drawings/tune", { token, method: "POST", body: run });

// The tuned copy as a weights file for CNN_WEIGHTS (a zip of class-copy.npz and class-copy.json)
export async function weightsFile(token, params, steps, drawings) {
  const blob = await send("/drawings/weights", { token, method: "POST", body: { params, steps, drawings }, as: "blob" });
  return { blob, name: "class-copy.zip" };
}

// The tuned copy as ONNX, where the service can export it (POST /model.onnx); null where it cannot.
export const onnxFile = (params) => onnx(params).then((blob) => ({ blob, name: "class-copy.onnx" }), () => null);

// Whether the service exports ONNX at all (GET /model.onnx is there, a few kilobytes)
export const exportsOnnx = () => open("/model.onnx").then((response) => response.ok, () => false);
