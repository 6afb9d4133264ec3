// Pictures of the network's numbers: heat maps with one colour scale, kernels, probability bars.

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

// A 28x28 grid of 0..255 ink as a small dark-on-light thumbnail (sample buttons).
export function paintThumbnail(canvas, pixels) {
  canvas.width = canvas.height = 28;
  const img = new ImageData(28, 28);
  pixels.flat().forEach((v, i) => img.data.set([255 - v, 255 - v, 255 - v, 255], 4 * i));
  canvas.getContext("2d").putImageData(img, 0, 0);
}

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

// A floating label that tells the value under the pointer, for every map on the page.
export function enableHover(root, tooltip) {
  root.addEventListener("pointermove", (e) => {
    const canvas = e.target;
    if (!(canvas instanceof HTMLCanvasElement) || !canvas.values) { tooltip.hidden = true; return; }
    const r = canvas.getBoundingClientRect();
    const h = canvas.values.length, w = canvas.values[0].length;
    const y = Math.min(h - 1, Math.floor(((e.clientY - r.top) / r.height) * h));
    const x = Math.min(w - 1, Math.floor(((e.clientX - r.left) / r.width) * w));
    tooltip.textContent = `${canvas.dataset.name}[${y}, ${x}] = ${canvas.values[y][x].toFixed(4)}`;
    tooltip.style.left = `${e.clientX + 14}px`;
    tooltip.style.top = `${e.clientY + 14}px`;
    tooltip.hidden = false;
  });
  root.addEventListener("pointerleave", () => { tooltip.hidden = true; });
}

// Ten bars, one per digit; the winner stands out.
export function makeBars(container) {
  container.replaceChildren();
  return Array.from({ length: 10 }, (_, digit) => {
    const row = document.createElement("div");
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
    row.querySelector(".value").textContent = probabilities ? `${(100 * p).toFixed(1)}%` : "–";
    row.classList.toggle("winner", probabilities !== null && digit === label);
  });
}
