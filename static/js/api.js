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
    throw new Error(body.detail);
  }
  return response.json();
}

// grid: 28 rows of 28 numbers in [0, 1] -> { label, probabilities, feature_maps: { C1, P1, C2, P2, S }, input }
export function predict(grid, { signal } = {}) {
  return call("/predict", {
    method: "POST",
    signal,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ image: grid, feature_maps: true }),
  });
}

// -> { architecture, parameters, metadata: { test_accuracy, ... }, sha256, ... }
export const modelInfo = () => call("/model");

// -> { k1: (6, 5, 5), b1, k2, b2 }
export const kernels = () => call("/model/kernels");

// -> { source, digits: [{ index, label, pixels: 28 rows of 28 numbers 0..255 }] }
export const samples = () => call("samples.json");
