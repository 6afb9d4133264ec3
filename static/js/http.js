// The page's one door to the service: every request (api.js, drawings-api.js, classes-api.js) goes through
// request() or open(), and every base64 the service sends is decoded here, so that a failure reads the
// same everywhere and the byte layout is written down once.

// A request the service answered with a refusal: its sentence (the JSON's `detail`), the status, and
// Retry-After where it said when to come back.
export class Refused extends Error {}

// The service could not be reached, or failed without saying why (5xx, or no sentence): the page keeps
// what the visitor made and tries again.
export class ServerUnreachable extends Refused {}

// A request -> the Response, ok or not; a network failure as ServerUnreachable (an abort stays an AbortError).
// token: the teacher's, sent as Authorization: Bearer (never in a URL); json: a body sent as JSON.
export async function open(path, { method = "GET", token = null, json, headers = {}, signal } = {}) {
  const sent = { ...headers };
  if (token) sent.Authorization = `Bearer ${token}`;
  if (json !== undefined) sent["Content-Type"] = "application/json";
  try {
    return await fetch(path, { method, headers: sent, signal, body: json === undefined ? undefined : JSON.stringify(json) });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ServerUnreachable("the server cannot be reached");
  }
}

// A request -> its JSON (null for a 204), or its Blob with as: "blob"; a refusal thrown with its sentence.
export async function request(path, { as = "json", ...options } = {}) {
  const response = await open(path, options);
  if (!response.ok) {
    const detail = (await response.json().catch(() => ({}))).detail;
    const said = typeof detail === "string";
    const Failure = response.status >= 500 || !said ? ServerUnreachable : Refused;
    throw Object.assign(new Failure(said ? detail : unexplained(response.status)),
      { status: response.status, retryAfter: Number(response.headers.get("Retry-After")) || null });
  }
  if (as === "blob") return response.blob();
  return response.status === 204 ? null : response.json();
}

// A failure the server gave no sentence for, in words (a proxy's 502, a 405 from a wrong URL...).
const unexplained = (status) => (status >= 500
  ? `the server failed (HTTP ${status}); try again in a moment`
  : `the server refused the request (HTTP ${status})`);

// base64 -> its bytes
export const bytesOf = (base64) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));

// base64 of little-endian float32 -> Float32Array
export const float32s = (base64) => new Float32Array(bytesOf(base64).buffer);

// { shape, float16 (or float32): base64 of little-endian floats } -> nested arrays of numbers of that shape.
// The service sends float32 instead of float16 where a value lies beyond the half floats' range.
export function decodeFloats({ shape, float16, float32 }) {
  const bytes = bytesOf(float16 ?? float32);
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
