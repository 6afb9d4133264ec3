// Drawings -> the 28x28 grids MNIST is made of: app/pictures/preprocessing.py's normalize(), step for step.
// The service and the page must turn the same drawing into the same grid (the browser tests check it),
// so every constant and every rounding here matches the Python: rounding is floor(x + 0.5).

export const GRID = 28;           // MNIST's field
export const BOX = 20;            // the ink's bounding box is fitted into BOX x BOX
export const FINE = 100;          // where strokes are measured and widened
export const STROKE = 0.11;       // MNIST's stroke width, as a fraction of the digit's longer side
export const THICK = 1.5;         // strokes wider than this many times MNIST's (a felt pen) are thinned to it
export const CENTRE = 14;         // where MNIST's centres of mass lie
export const INK_THRESHOLD = 0.1; // of the darkest ink: fainter pixels don't extend the bounding box
export const BLANK_LEVEL = 0.05;  // no pixel inkier than this: nothing was drawn

export class EmptyDrawing extends Error {}

const halfUp = (x) => Math.floor(x + 0.5);

// An image is { data: Float64Array (row-major), height, width }.
const image = (height, width) => ({ data: new Float64Array(height * width), height, width });

function maxOf(data) {
  let m = 0;
  for (const v of data) if (v > m) m = v;
  return m;
}

// For each output cell along one axis: the input cells it covers and by how much (area averaging).
function areaWeights(nOut, nIn) {
  const scale = nIn / nOut;
  const cells = [];
  for (let i = 0; i < nOut; i++) {
    const lo = i * scale, hi = lo + scale, taps = [];
    for (let j = Math.floor(lo); j < Math.min(nIn, Math.ceil(hi)); j++) {
      const overlap = Math.min(hi, j + 1) - Math.max(lo, j);
      if (overlap > 0) taps.push([j, overlap / scale]);
    }
    cells.push(taps);
  }
  return cells;
}

// Area-average so that the longer side is `side` pixels, the aspect ratio kept.
export function resample(img, side) {
  const { data, height: h, width: w } = img;
  const th = Math.max(1, halfUp((h * side) / Math.max(h, w)));
  const tw = Math.max(1, halfUp((w * side) / Math.max(h, w)));
  const rowTaps = areaWeights(th, h), colTaps = areaWeights(tw, w);
  const rows = new Float64Array(th * w); // rows first, as (Wr @ img) @ Wc.T
  for (let i = 0; i < th; i++)
    for (const [j, weight] of rowTaps[i])
      for (let x = 0; x < w; x++) rows[i * w + x] += weight * data[j * w + x];
  const out = image(th, tw);
  for (let i = 0; i < th; i++)
    for (let x = 0; x < tw; x++) {
      let sum = 0;
      for (const [j, weight] of colTaps[x]) sum += rows[i * w + j] * weight;
      out.data[i * tw + x] = sum;
    }
  return out;
}

// Twice the inked area over its perimeter: the mean width of the strokes.
export function strokeWidth(img) {
  const { data, height: h, width: w } = img;
  const threshold = INK_THRESHOLD * maxOf(data);
  const inked = (y, x) => data[y * w + x] > threshold;
  let area = 0, edges = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const here = inked(y, x);
      area += here;
      if (y + 1 < h && here !== inked(y + 1, x)) edges++;
      if (x + 1 < w && here !== inked(y, x + 1)) edges++;
      if (here) edges += (y === 0) + (y === h - 1) + (x === 0) + (x === w - 1);
    }
  return (2 * area) / Math.max(edges, 1);
}

// Each pixel the maximum of the k x k square around it (k odd); the image grows by k - 1.
export function maxFilter(img, k) {
  const { data, height: h, width: w } = img;
  const H = h + k - 1, W = w + k - 1;
  const rows = new Float64Array(H * w);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < w; x++) {
      let m = 0;
      for (let j = Math.max(0, y - k + 1); j <= Math.min(h - 1, y); j++) m = Math.max(m, data[j * w + x]);
      rows[y * w + x] = m;
    }
  const out = image(H, W);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      let m = 0;
      for (let j = Math.max(0, x - k + 1); j <= Math.min(w - 1, x); j++) m = Math.max(m, rows[y * w + j]);
      out.data[y * W + x] = m;
    }
  return out;
}

// Each pixel the minimum of the k x k square around it (k odd), blank beyond the edges; the size is kept.
export function minFilter(img, k) {
  const { data, height: h, width: w } = img;
  const r = (k - 1) / 2;
  const rows = new Float64Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let m = y - r < 0 || y + r > h - 1 ? 0 : Infinity;
      for (let j = Math.max(0, y - r); j <= Math.min(h - 1, y + r); j++) m = Math.min(m, data[j * w + x]);
      rows[y * w + x] = m;
    }
  const out = image(h, w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let m = x - r < 0 || x + r > w - 1 ? 0 : Infinity;
      for (let j = Math.max(0, x - r); j <= Math.min(w - 1, x + r); j++) m = Math.min(m, rows[y * w + j]);
      out.data[y * w + x] = m;
    }
  return out;
}

// (H, W) ink in [0, 1], 1 = ink -> 28 rows of 28 numbers in [0, 1], an MNIST-like digit.
export function normalize(ink) {
  const darkest = maxOf(ink.data);
  if (darkest < BLANK_LEVEL) throw new EmptyDrawing("the drawing is blank: draw a digit first");

  // 1. the bounding box of the ink
  let top = ink.height, bottom = -1, left = ink.width, right = -1;
  for (let y = 0; y < ink.height; y++)
    for (let x = 0; x < ink.width; x++)
      if (ink.data[y * ink.width + x] > INK_THRESHOLD * darkest) {
        top = Math.min(top, y); bottom = Math.max(bottom, y);
        left = Math.min(left, x); right = Math.max(right, x);
      }
  const box = image(bottom - top + 1, right - left + 1);
  for (let y = 0; y < box.height; y++)
    for (let x = 0; x < box.width; x++) box.data[y * box.width + x] = ink.data[(top + y) * ink.width + left + x];

  // 2.-3. at a fixed fine resolution, thin strokes widened to MNIST's width, a felt pen's thinned
  let fine = resample(box, FINE);
  const missing = STROKE * FINE - strokeWidth(fine);
  const k = 2 * halfUp(missing / 2) + 1;
  if (k > 1) fine = maxFilter(fine, k);
  const thin = 2 * halfUp((-missing - (THICK - 1) * STROKE * FINE) / 2) + 1;
  if (thin > 1) fine = minFilter(fine, thin);

  // 4.-5. the longer side made BOX pixels, the darkest pixel 1
  const digit = resample(fine, BOX);
  const peak = maxOf(digit.data);
  for (let i = 0; i < digit.data.length; i++) digit.data[i] /= peak;

  // 6. the centre of mass moved to (14, 14), keeping the digit inside the field
  const { height: th, width: tw } = digit;
  let mass = 0, my = 0, mx = 0;
  const rowSums = new Float64Array(th), colSums = new Float64Array(tw);
  for (let y = 0; y < th; y++)
    for (let x = 0; x < tw; x++) {
      rowSums[y] += digit.data[y * tw + x];
      colSums[x] += digit.data[y * tw + x];
    }
  for (let y = 0; y < th; y++) { mass += rowSums[y]; my += rowSums[y] * y; }
  for (let x = 0; x < tw; x++) mx += colSums[x] * x;
  const cy = my / mass, cx = mx / mass;
  const y0 = Math.min(Math.max(halfUp(CENTRE - cy), 0), GRID - th);
  const x0 = Math.min(Math.max(halfUp(CENTRE - cx), 0), GRID - tw);
  const grid = Array.from({ length: GRID }, () => new Array(GRID).fill(0));
  for (let y = 0; y < th; y++)
    for (let x = 0; x < tw; x++) grid[y0 + y][x0 + x] = Math.fround(digit.data[y * tw + x]); // float32, as Python
  return grid;
}

// Canvas pixels (RGBA, dark ink on white) -> ink in [0, 1], with Pillow's luma weights.
export function inkOfPixels({ data, width, height }) {
  const ink = image(height, width);
  for (let i = 0; i < width * height; i++)
    ink.data[i] = 1 - (0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2]) / 255;
  return ink;
}
