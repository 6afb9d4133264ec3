// "Share": the page's state in the link's fragment, so that another machine reproduces the same
// answers to the last digit. What is sent is what the network computed with: the 28x28 grids as
// float32. A copy taught a few lessons travels as its lessons (grid, digit, learning rate), which the
// recipient's page replays through POST /teach (the service is deterministic): a few dozen bytes a
// lesson instead of 15.6 KB of parameters. Other networks travel as their parameters.
//
// The link is input from anyone: it is inflated a little at a time and never beyond the largest state
// the page can make, and every field's type, length and range is checked before anything uses it.
import { bytesOf } from "./http.js";

export class BadLink extends Error {}

const VERSION = 2;
export const MAX_LESSONS = 32;   // more lessons than this travel as the parameters they made
export const MAX_GRIDS = 8;      // distinct drawings in a link (the one shown and those of its lessons)
const MAX_HEADER = 4096;         // bytes of the JSON header: 32 lessons take about 1,100
const KINDS = ["shared", "taught", "scratch", "class"];
const PIECE = 512;               // bytes of link fed to the inflater at a time: at most ~0.5 MB comes out of one

// The shapes come from GET /model: a grid of side x side float32, `parameters` float32.
export function limits(side, parameters) {
  const gridBytes = 4 * side * side, paramBytes = 4 * parameters;
  const maxBytes = 2 + MAX_HEADER + MAX_GRIDS * gridBytes + paramBytes;
  // Deflate never grows data by more than 5 bytes in 16 KB plus a few; base64url adds a third.
  const maxText = 2 + Math.ceil(((maxBytes + 5 * Math.ceil(maxBytes / 16384) + 16) * 4) / 3);
  return { side, gridBytes, paramBytes, maxBytes, maxText };
}

const toBase64Url = (bytes) => {  // String.fromCharCode(...) of a large array overflows the stack
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};
const fromBase64 = (text) => bytesOf(text.replace(/-/g, "+").replace(/_/g, "/"));

// float32s with their bytes regrouped (every first byte, then every second...): deflate then finds
// the runs that the sign and exponent bytes make, and links get shorter; exactly reversible.
function shuffle(bytes) {
  const n = bytes.length / 4, out = new Uint8Array(bytes.length);
  for (let i = 0; i < n; i++) for (let k = 0; k < 4; k++) out[k * n + i] = bytes[4 * i + k];
  return out;
}
function unshuffle(bytes) {
  const n = bytes.length / 4, out = new Uint8Array(bytes.length);
  for (let i = 0; i < n; i++) for (let k = 0; k < 4; k++) out[4 * i + k] = bytes[k * n + i];
  return out;
}
const gridBytes = (grid) => new Uint8Array(new Float32Array(grid.flat()).buffer);

async function deflate(bytes) {
  const piped = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(piped).arrayBuffer());
}

// Inflates at most `cap` bytes, feeding the compressed bytes in small pieces so that no single step
// can produce much; a link that would inflate further is refused at once (a zip bomb stops here).
async function inflate(bytes, cap) {
  const stream = new DecompressionStream("deflate-raw");
  const writer = stream.writable.getWriter(), reader = stream.readable.getReader();
  const chunks = [];
  let total = 0;
  const reading = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.length;
      if (total > cap) throw new BadLink("this share link holds more than any link of this page can");
      chunks.push(value);
    }
  })();
  reading.catch(() => {});  // looked at below
  try {
    for (let i = 0; i < bytes.length; i += PIECE) {
      await Promise.race([writer.write(bytes.subarray(i, i + PIECE)), reading]);
    }
    await Promise.race([writer.close(), reading]);
    await reading;
  } catch (e) {
    writer.abort().catch(() => {});
    reader.cancel().catch(() => {});
    if (e instanceof BadLink) throw e;
    throw new BadLink("this share link is damaged (cut short when it was copied?)");
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) { out.set(chunk, at); at += chunk.length; }
  return out;
}

// The state -> the fragment "s=...". state: { grid, label, kind, sha, base (base64 params or null),
// count (lessons baked into base, steps, or drawings), lessons: [{ grid, label, lr }] }
export async function encodeState({ grid, label, kind, sha, base = null, count = 0, lessons = [] }, { side }) {
  const grids = [grid];
  const indexOf = (g) => {
    const same = grids.findIndex((h) => h === g || JSON.stringify(h) === JSON.stringify(g));
    return same >= 0 ? same : grids.push(g) - 1;
  };
  const steps = lessons.map((l) => [indexOf(l.grid), l.label, l.lr]);
  if (grids.some((g) => g.length !== side) || grids.length > MAX_GRIDS || steps.length > MAX_LESSONS) {
    throw new BadLink("too many lessons to share as lessons");  // the caller shares the parameters instead
  }
  const header = new TextEncoder().encode(JSON.stringify({
    v: VERSION, kind, sha: sha.slice(0, 12), label, grids: grids.length, base: base !== null, count, lessons: steps,
  }));
  const parts = [new Uint8Array([header.length & 255, header.length >> 8]), header,
    ...grids.map((g) => shuffle(gridBytes(g))), ...(base ? [shuffle(fromBase64(base))] : [])];
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => { all.set(p, at); return at + p.length; }, 0);
  return `s=${toBase64Url(await deflate(all))}`;
}

const isCount = (v, most) => Number.isInteger(v) && v >= 0 && v <= most;

// The fragment (without "#") -> the state, or BadLink saying what is wrong.
export async function decodeState(fragment, limit) {
  if (typeof fragment !== "string" || !fragment.startsWith("s=")) throw new BadLink("this is not a share link of this page");
  if (fragment.length > limit.maxText) throw new BadLink("this share link is longer than any link of this page");
  let packed;
  try { packed = fromBase64(fragment.slice(2)); } catch { throw new BadLink("this share link is damaged (cut short when it was copied?)"); }
  const bytes = await inflate(packed, limit.maxBytes);
  if (bytes[0] === 0x7b) throw new BadLink("this share link was made by another version of the page");  // v1: bare JSON
  const length = bytes.length >= 2 ? bytes[0] | (bytes[1] << 8) : Infinity;
  if (length > MAX_HEADER || 2 + length > bytes.length) throw new BadLink("this share link is damaged");
  let h;
  try { h = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(2, 2 + length))); } catch { h = null; }
  if (!h || typeof h !== "object" || Array.isArray(h)) throw new BadLink("this share link is damaged");
  if (h.v !== VERSION) throw new BadLink("this share link was made by another version of the page");
  const ok = KINDS.includes(h.kind) && typeof h.sha === "string" && /^[0-9a-f]{12}$/.test(h.sha)
    && (h.label === null || isCount(h.label, 9)) && isCount(h.grids, MAX_GRIDS) && h.grids >= 1
    && typeof h.base === "boolean" && isCount(h.count, 1e9) && Array.isArray(h.lessons) && h.lessons.length <= MAX_LESSONS
    && h.lessons.every((l) => Array.isArray(l) && l.length === 3 && isCount(l[0], h.grids - 1) && isCount(l[1], 9)
                              && typeof l[2] === "number" && l[2] > 0 && l[2] <= 10)
    && (h.kind === "shared" ? !h.base && !h.lessons.length : h.kind === "taught" || (h.base && !h.lessons.length));
  if (!ok) throw new BadLink("this share link's contents are damaged");
  const body = 2 + length, expected = body + h.grids * limit.gridBytes + (h.base ? limit.paramBytes : 0);
  if (bytes.length !== expected) throw new BadLink("this share link is damaged (cut short when it was copied?)");
  const grids = Array.from({ length: h.grids }, (_, g) => {
    const at = body + g * limit.gridBytes;
    const pixels = new Float32Array(unshuffle(bytes.subarray(at, at + limit.gridBytes)).buffer);
    if (pixels.some((v) => !(v >= 0 && v <= 1))) throw new BadLink("this share link's drawing is damaged");
    return Array.from({ length: limit.side }, (_, y) => Array.from(pixels.subarray(limit.side * y, limit.side * (y + 1))));
  });
  let base = null;
  if (h.base) {
    const raw = unshuffle(bytes.subarray(expected - limit.paramBytes, expected));
    if (new Float32Array(raw.buffer).some((v) => !Number.isFinite(v))) throw new BadLink("this share link's network is damaged");
    base = btoa(String.fromCharCode(...raw));
  }
  return {
    grid: grids[0], label: h.label, kind: h.kind, sha: h.sha, base, count: h.count,
    lessons: h.lessons.map(([g, label, lr]) => ({ grid: grids[g], label, lr })),
  };
}

// A link whose answer comes from the served network (the shared one, or a copy taught by lessons replayed
// on it) names that network by the first 12 hex digits of its weights' SHA-256. When the service has since
// been given other weights, the same drawing would get another answer: the link is refused, not
// answered as if it were the one shared. Links that carry their own parameters open on any version.
export function checkNetwork(state, servedSha256) {
  if (state.base === null && !servedSha256.startsWith(state.sha)) {
    throw new BadLink(`this share link was made with another version of the shared network (${state.sha}, ` +
                      `now ${servedSha256.slice(0, 12)}), which would answer its drawing differently`);
  }
  return state;
}
