// Pictures of the network's numbers: heat maps with one colour scale, kernels, probability bars.
import { num } from "./format.js";
import { bytesOf } from "./http.js";

// Viridis (matplotlib's default): dark for 0, bright for the layer's largest value; readable in grey too.
const VIRIDIS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725"];
// Kernels have signs: blue below 0, white at 0, red above.
const DIVERGING = ["#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"];

function lookupTable(stops) {
  const rgb = stops.map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));
  return Array.from({ length: 256 }, (_, i) => {
    const t = (i / 255) * (rgb.length - 1), k = Math.min(Math.floor(t), rgb.length - 2), f = t - k;
    return rgb[k].map((c, j) => Math.round(c + f * (rgb[k + 1][j] - c)));
  });
}
const SEQUENTIAL_LUT = lookupTable(VIRIDIS), DIVERGING_LUT = lookupTable(DIVERGING);
export const gradientCss = (diverging = false) => `linear-gradient(to right, ${(diverging ? DIVERGING : VIRIDIS).join(", ")})`;

// Paint a 2-D array into a canvas, one canvas pixel per value (CSS scales it up, pixelated).
// Values run from 0 to vmax (or -vmax..vmax when diverging); hover reads canvas.values.
export function paintMap(canvas, values, vmax, { diverging = false, name = "" } = {}) {
  const h = values.length, w = values[0].length, lut = diverging ? DIVERGING_LUT : SEQUENTIAL_LUT;
  if (canvas.width !== w) { canvas.width = w; canvas.height = h; }
  const img = new ImageData(w, h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const v = values[y][x];
      const t = diverging ? (v / (vmax || 1) + 1) / 2 : v / (vmax || 1);
      const [r, g, b] = lut[Math.max(0, Math.min(255, Math.round(t * 255)))];
      img.data.set([r, g, b, 255], 4 * (y * w + x));
    }
  canvas.getContext("2d").putImageData(img, 0, 0);
  canvas.values = values;
  canvas.dataset.name = name;
  canvas.dataset.painted = "true";
}

// A 28x28 grid of 0..255 ink as a small dark-on-light thumbnail (sample buttons, and the pad's
// picture of a sample or a shared drawing). `canvas` may be an OffscreenCanvas.
export function paintThumbnail(canvas, pixels) {
  const rows = pixels.length, cols = pixels[0].length;
  canvas.width = cols; canvas.height = rows;
  const img = new ImageData(cols, rows);
  pixels.flat().forEach((v, i) => img.data.set([255 - v, 255 - v, 255 - v, 255], 4 * i));
  canvas.getContext("2d").putImageData(img, 0, 0);
  return canvas;
}

// A saved drawing as the service sends it (base64 of its bytes 0-255, ink high, as MNIST) -> a thumbnail
// canvas (the teacher's gallery, the live board, the fine-tune's report), named for a screen reader.
export function pictureOf(pixels, label) {
  const bytes = bytesOf(pixels), side = Math.round(Math.sqrt(bytes.length));
  const rows = Array.from({ length: side }, (_, r) => Array.from(bytes.subarray(side * r, side * r + side)));
  const canvas = paintThumbnail(document.createElement("canvas"), rows);
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", label);
  return canvas;
}

// The cell of a painted map under a pointer: the one place that turns a position into [row, column].
// Pointer events carry fractional positions; a click's own are rounded, so callers pass the pointerdown's.
export function cellAt(canvas, { clientX, clientY }) {
  const box = canvas.getBoundingClientRect();
  const rows = canvas.height, cols = canvas.width;
  return [Math.max(0, Math.min(rows - 1, Math.floor(((clientY - box.top) / box.height) * rows))),
          Math.max(0, Math.min(cols - 1, Math.floor(((clientX - box.left) / box.width) * cols)))];
}

const cellName = (canvas, [y, x]) => {
  const name = canvas.dataset.name, open = name.indexOf("[");  // "C1[2]" -> "C1[2, y, x]"
  return open < 0 ? `${name}[${y}, ${x}]` : `${name.slice(0, -1)}, ${y}, ${x}]`;
};
const valueText = (canvas, cell) => `${cellName(canvas, cell)} = ${num(canvas.values[cell[0]][cell[1]])}` +
  (canvas.dataset.equation && canvas.dataset.equation !== "-" ? `, eq. (${canvas.dataset.equation})` : "");

export function clearMap(canvas) {
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  canvas.values = null;
  canvas.dataset.painted = "false";
}

export const maxOf = (maps) => Math.max(1e-12, ...maps.flat(Infinity));

// A gallery of canvases, one per map, created once.
export function makeGallery(container, count, size, label) {
  container.replaceChildren();
  return Array.from({ length: count }, (_, i) => {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = size;
    canvas.className = "map";
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `${label} map ${i + 1}`);
    container.append(canvas);
    return canvas;
  });
}

// A floating label that tells the value under the pointer, for every map on the page; a tap on a
// touch screen shows it too (there is no hover there).
export function enableHover(root, tooltip) {
  let hideTimer = null;
  const showAt = (e) => {
    const canvas = e.target;
    if (!(canvas instanceof HTMLCanvasElement) || !canvas.values) { tooltip.hidden = true; return; }
    tooltip.textContent = valueText(canvas, cellAt(canvas, e));
    tooltip.style.left = `${Math.min(e.clientX + 14, innerWidth - tooltip.offsetWidth - 4)}px`;
    tooltip.style.top = `${e.clientY + (e.pointerType === "touch" ? -40 : 14)}px`;
    tooltip.hidden = false;
    clearTimeout(hideTimer);
    if (e.pointerType === "touch") hideTimer = setTimeout(() => { tooltip.hidden = true; }, 2500);
  };
  root.addEventListener("pointermove", (e) => { if (e.pointerType !== "touch") showAt(e); });
  root.addEventListener("pointerdown", (e) => { if (e.pointerType === "touch" && e.target.id !== "pad") showAt(e); });
  root.addEventListener("pointerleave", (e) => { if (e.pointerType !== "touch") tooltip.hidden = true; });
}

// A map whose cells can be chosen: a click (or a tap) on a cell, or from the keyboard, the arrow
// keys moving a cursor within the map and Enter choosing. onPick(cell, canvas) does the rest.
export function enableCells(canvas, onPick, cursorBox, tooltip) {
  canvas.tabIndex = 0;
  canvas.setAttribute("role", "button");
  let down = null;  // the pointerdown's fractional position
  canvas.addEventListener("pointerdown", (e) => { down = { clientX: e.clientX, clientY: e.clientY }; });
  canvas.addEventListener("click", (e) => {
    if (!canvas.values) return;
    const cell = cellAt(canvas, down ?? e);
    down = null;
    canvas.cursor = cell;
    onPick(cell, canvas);
  });
  const place = () => {
    const [y, x] = canvas.cursor, box = canvas.getBoundingClientRect();
    const w = box.width / canvas.width, h = box.height / canvas.height;
    Object.assign(cursorBox.style, { left: `${box.left + scrollX + x * w}px`, top: `${box.top + scrollY + y * h}px`,
                                     width: `${w}px`, height: `${h}px` });
    cursorBox.hidden = false;
    if (canvas.values) {
      tooltip.textContent = valueText(canvas, canvas.cursor);
      tooltip.style.left = `${Math.min(box.left + (x + 1) * w + 6, innerWidth - tooltip.offsetWidth - 4)}px`;
      tooltip.style.top = `${box.top + (y + 1) * h + 6}px`;
      tooltip.hidden = false;
    }
  };
  canvas.addEventListener("focus", () => { if (canvas.matches(":focus-visible")) { canvas.cursor ??= [0, 0]; place(); } });
  canvas.addEventListener("blur", () => { cursorBox.hidden = true; tooltip.hidden = true; });
  canvas.addEventListener("keydown", (e) => {
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    canvas.cursor ??= [0, 0];
    if (moves[e.key]) {
      e.preventDefault();
      const [dy, dx] = moves[e.key], [y, x] = canvas.cursor;
      canvas.cursor = [Math.max(0, Math.min(canvas.height - 1, y + dy)), Math.max(0, Math.min(canvas.width - 1, x + dx))];
      place();
    } else if ((e.key === "Enter" || e.key === " ") && canvas.values) {
      e.preventDefault();
      onPick(canvas.cursor, canvas);
    }
  });
}

// Ten bars, one per digit, each a button (its equation); the winner stands out.
export function makeBars(container) {
  container.replaceChildren();
  return Array.from({ length: 10 }, (_, digit) => {
    const row = document.createElement("button");
    row.type = "button";
    row.className = "bar";
    row.innerHTML = `<span class="digit">${digit}</span><span class="track"><span class="fill"></span></span>` +
      `<span class="value">–</span>`;
    container.append(row);
    return row;
  });
}

export function paintBars(bars, probabilities, label) {
  bars.forEach((row, digit) => {
    const p = probabilities ? probabilities[digit] : 0;
    row.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    // "97.3%"; the decimal in its own span, which a phone's narrow column leaves out
    const [whole, tenth] = (100 * p).toFixed(1).split(".");
    row.querySelector(".value").innerHTML = probabilities ? `${whole}<span class="tenth">.${tenth}</span>%` : "–";
    row.classList.toggle("winner", probabilities !== null && digit === label);
  });
}
