// "Share it": the page's state (the 28x28 grid the network read, the digit chosen in the explorer,
// the explorer's lessons) in the link's fragment, compressed, so that another machine reproduces
// the same answer. The grid travels as float32, exactly what the network computes with.
const VERSION = 1;
const MAX_TEXT = 200_000;  // a link beyond this is not one of ours

const fromBase64Url = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

async function squeeze(bytes, stream) {
  const piped = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(piped).arrayBuffer());
}

function chunkedBase64Url(bytes) {  // String.fromCharCode(...) of a large array overflows the stack
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// { grid: 28x28 numbers, label: 0-9 or null, params: base64 or null, steps } -> the fragment, "s=..."
export async function encodeState({ grid, label, params, steps = 0 }) {
  const pixels = new Float32Array(grid.flat());
  const json = JSON.stringify({ v: VERSION, grid: chunkedBase64Url(new Uint8Array(pixels.buffer)), label, params, steps });
  return `s=${chunkedBase64Url(await squeeze(new TextEncoder().encode(json), new CompressionStream("deflate-raw")))}`;
}

export class BadLink extends Error {}

// The fragment (without "#") -> { grid, label, params }, or BadLink saying what is wrong.
export async function decodeState(fragment) {
  if (!fragment.startsWith("s=") || fragment.length > MAX_TEXT) throw new BadLink("this is not a share link of this page");
  let state;
  try {
    const bytes = await squeeze(fromBase64Url(fragment.slice(2)), new DecompressionStream("deflate-raw"));
    state = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new BadLink("this share link is damaged (cut short when it was copied?)");
  }
  if (state?.v !== VERSION) throw new BadLink("this share link was made by another version of the page");
  let pixels;
  try {
    const raw = fromBase64Url(state.grid);
    pixels = new Float32Array(raw.buffer, 0, raw.length / 4);
  } catch {
    throw new BadLink("this share link's drawing is damaged");
  }
  if (pixels.length !== 784 || pixels.some((v) => !(v >= 0 && v <= 1))) throw new BadLink("this share link's drawing is damaged");
  const label = state.label;
  if (label !== null && !(Number.isInteger(label) && label >= 0 && label <= 9)) throw new BadLink("this share link's digit is damaged");
  if (state.params !== null && typeof state.params !== "string") throw new BadLink("this share link's lessons are damaged");
  const steps = Number.isInteger(state.steps) && state.steps >= 0 ? state.steps : 0;
  const grid = Array.from({ length: 28 }, (_, y) => Array.from(pixels.subarray(28 * y, 28 * y + 28)));
  return { grid, label, params: state.params, steps };
}
