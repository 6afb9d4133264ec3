// The network's endpoints (/predict, /explain, /train...): their URLs and the shape of their JSON, over
// http.js. The drawings' and the classes' are in drawings-api.js and classes-api.js.

import { decodeFloats, request } from "./http.js";

export { ServerUnreachable } from "./http.js";

const post = (path, json, signal) => request(path, { method: "POST", json, signal });

// grid: 28 rows of 28 numbers in [0, 1] -> { label, probabilities, feature_maps: { C1, P1, C2, P2, S }, input }
// The maps travel as float16 (half the bytes, and 7x cheaper for the server to write than JSON numbers).
// With params (base64 float32), a visitor's own network answers instead of the shared one.
export async function predict(grid, { signal, params = null } = {}) {
  const body = { image: grid, feature_maps: true, maps_encoding: "float16", ...(params ? { params } : {}) };
  const answer = await post("/predict", body, signal);
  decodeAll(answer.feature_maps);
  answer.input = decodeFloats(answer.input);
  return answer;
}

function decodeAll(object) {
  for (const [name, value] of Object.entries(object)) if (value && (value.float16 || value.float32)) object[name] = decodeFloats(value);
  return object;
}

// "What if this were a <label>?" -> { label, loss, probabilities, gradients: { dLS ... dLI }, norms, equations }
export async function explain(grid, label, params, { signal } = {}) {
  const answer = await post("/explain", { image: grid, label, ...(params ? { params } : {}) }, signal);
  decodeAll(answer.gradients);
  return answer;
}

// One SGD step on the visitor's copy -> { params, loss_before, loss_after, probabilities_before, probabilities_after }
export const teach = (grid, label, lr, params) => post("/teach", { image: grid, label, lr, ...(params ? { params } : {}) });

// -> { architecture, parameters, metadata: { test_accuracy, ... }, sha256, ... }
export const modelInfo = () => request("/model");

// -> { k1: (6, 5, 5), b1, k2, b2 }
export const kernels = () => request("/model/kernels");

// -> { source, digits: [{ index, label, pixels: 28 rows of 28 numbers 0..255 }] }
export const samples = () => request("samples.json");

// Training steps: { recipe, seed, steps } starts a run, { resume, steps } continues it ->
// { step, epoch, losses, heldout_accuracy, heldout_loss, resume, params, ... }
export const train = (run) => post("/train", run);

// Make it a <target>: steps on the drawing -> { image, label, steps, reached, l2, largest_change, frames, target_probability }
export async function nudge(grid, target, mode, params) {
  const answer = await post("/nudge", { image: grid, target, mode, ...(params ? { params } : {}) });
  answer.frames = decodeFloats(answer.frames);
  return answer;
}

// One entry of one gradient checked by hand -> { analytic, numerical, relative_error, kink, left, right, why }
export const check = (grid, label, gradient, index, params) =>
  post("/check", { image: grid, label, gradient, index, ...(params ? { params } : {}) });

// One of the article's equations for one cell, with this drawing's numbers -> { equation, text, value, ... }
// extra: { parameter, lr } for kind "update", eq. (66).
export const equation = (grid, label, kind, index, params, extra = {}) =>
  post("/equation", { image: grid, label, kind, index, ...extra, ...(params ? { params } : {}) });

// For the tour: /explain with the whole forward pass and the parameters, every array the network's
// float32 numbers exactly -> { label, gradients, forward: { S1 ... O }, parameters: { k1 ... b }, input }
export async function explainEverything(grid, label, params) {
  const body = { image: grid, label, forward: true, maps_encoding: "float32", ...(params ? { params } : {}) };
  const answer = await post("/explain", body);
  for (const part of [answer.gradients, answer.forward, answer.parameters]) decodeAll(part);
  answer.input = decodeFloats(answer.input);
  return answer;
}

// The answering network as an ONNX file (a Blob): GET /model.onnx for the shared one, POST with the
// visitor's parameters for a copy of theirs.
export const onnx = (params) =>
  request("/model.onnx", { as: "blob", ...(params ? { method: "POST", json: { params } } : {}) });
