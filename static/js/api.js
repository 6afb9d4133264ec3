// The only module that knows the service's URLs and the shape of its JSON.

export class ServerUnreachable extends Error {}

async function call(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ServerUnreachable("the server cannot be reached");
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    if (response.status >= 500 || !body.detail) throw new ServerUnreachable(`the server answered ${response.status}`);
    throw Object.assign(new Error(body.detail), { status: response.status });
  }
  return response.json();
}

// { shape, float16 (or float32): base64 of little-endian floats } -> nested arrays of numbers of that shape.
// The service sends float32 instead of float16 where a value lies beyond the half floats' range.
export function decodeFloat16({ shape, float16, float32 }) {
  const bytes = Uint8Array.from(atob(float16 ?? float32), (c) => c.charCodeAt(0));
  const view = new DataView(bytes.buffer);
  const flat = float16 !== undefined
    ? Array.from({ length: bytes.length / 2 }, (_, i) => halfToNumber(view.getUint16(2 * i, true)))
    : Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(4 * i, true));
  const nest = (offset, [n, ...rest]) => {
    if (!rest.length) return flat.slice(offset, offset + n);
    const size = rest.reduce((a, b) => a * b, 1);
    return Array.from({ length: n }, (_, i) => nest(offset + i * size, rest));
  };
  return nest(0, shape);
}

// IEEE 754 binary16 -> number (DataView.getFloat16 is not in every browser yet).
function halfToNumber(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

// grid: 28 rows of 28 numbers in [0, 1] -> { label, probabilities, feature_maps: { C1, P1, C2, P2, S }, input }
// The maps travel as float16 (half the bytes, and 7x cheaper for the server to write than JSON numbers).
// With params (base64 float32), a visitor's own network answers instead of the shared one.
export async function predict(grid, { signal, params = null } = {}) {
  const answer = await call("/predict", {
    method: "POST",
    signal,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ image: grid, feature_maps: true, maps_encoding: "float16", ...(params ? { params } : {}) }),
  });
  for (const [name, value] of Object.entries(answer.feature_maps)) answer.feature_maps[name] = decodeFloat16(value);
  answer.input = decodeFloat16(answer.input);
  return answer;
}

function decodeAll(object) {
  for (const [name, value] of Object.entries(object)) if (value && (value.float16 || value.float32)) object[name] = decodeFloat16(value);
  return object;
}

// "What if this were a <label>?" -> { label, loss, probabilities, gradients: { dLS ... dLI }, norms, equations }
export async function explain(grid, label, params, { signal } = {}) {
  const answer = await call("/explain", {
    method: "POST",
    signal,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ image: grid, label, ...(params ? { params } : {}) }),
  });
  decodeAll(answer.gradients);
  return answer;
}

// One SGD step on the visitor's copy -> { params, loss_before, loss_after, probabilities_before, probabilities_after }
export const teach = (grid, label, lr, params) => call("/teach", {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ image: grid, label, lr, ...(params ? { params } : {}) }),
});

// -> { architecture, parameters, metadata: { test_accuracy, ... }, sha256, ... }
export const modelInfo = () => call("/model");

// -> { k1: (6, 5, 5), b1, k2, b2 }
export const kernels = () => call("/model/kernels");

// -> { source, digits: [{ index, label, pixels: 28 rows of 28 numbers 0..255 }] }
export const samples = () => call("samples.json");

// Training steps: { recipe, seed, steps } starts a run, { resume, steps } continues it ->
// { step, epoch, losses, heldout_accuracy, heldout_loss, resume, params, ... }
export const train = (request) => call("/train", {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify(request),
});

// base64 of little-endian float32 -> Float32Array
export function float32s(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

// Make it a <target>: steps on the drawing -> { image, label, steps, reached, l2, largest_change, frames, target_probability }
export async function nudge(grid, target, mode, params) {
  const answer = await call("/nudge", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ image: grid, target, mode, ...(params ? { params } : {}) }),
  });
  answer.frames = decodeFloat16(answer.frames);
  return answer;
}

// One entry of one gradient checked by hand -> { analytic, numerical, relative_error, kink, left, right, why }
export const check = (grid, label, gradient, index, params) => call("/check", {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ image: grid, label, gradient, index, ...(params ? { params } : {}) }),
});

// One of the article's equations for one cell, with this drawing's numbers -> { equation, text, value, ... }
// extra: { parameter, lr } for kind "update", eq. (66).
export const equation = (grid, label, kind, index, params, extra = {}) => call("/equation", {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ image: grid, label, kind, index, ...extra, ...(params ? { params } : {}) }),
});

// For the tour: /explain with the whole forward pass and the parameters, every array the network's
// float32 numbers exactly -> { label, gradients, forward: { S1 ... O }, parameters: { k1 ... b }, input }
export async function explainEverything(grid, label, params) {
  const answer = await call("/explain", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ image: grid, label, forward: true, maps_encoding: "float32", ...(params ? { params } : {}) }),
  });
  for (const part of [answer.gradients, answer.forward, answer.parameters]) decodeAll(part);
  answer.input = decodeFloat16(answer.input);
  return answer;
}

// The answering network as an ONNX file (a Blob): GET /model.onnx for the shared one, POST with the
// visitor's parameters for a copy of theirs.
export async function onnx(params) {
  const options = params
    ? { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ params }) } : {};
  let response;
  try {
    response = await fetch("/model.onnx", options);
  } catch {
    throw new ServerUnreachable("the server cannot be reached");
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw Object.assign(new Error(body.detail ?? `the server answered ${response.status}`), { status: response.status });
  }
  return response.blob();
}
