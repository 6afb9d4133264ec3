// The page: the drawing pad -> normalisation -> POST /predict -> every layer painted.
import * as api from "./api.js";
import { Sketchpad } from "./draw.js";
import { Explorer } from "./explorer.js";
import { showEquation } from "./equations.js";
import { BadLink, decodeState, encodeState } from "./share.js";
import { Trainer } from "./trainer.js";
import { EmptyDrawing, inkOfPixels, normalize } from "./normalize.js";
import {
  clearMap, enableHover, gradientCss, makeBars, makeGallery, maxOf, paintBars, paintMap, paintThumbnail,
} from "./render.js";

const $ = (selector) => document.querySelector(selector);
// The network's layers, shapes and equation numbers come from the service (GET /model, which
// takes them from model/architecture.py); the page writes none of them down.
const info = await api.modelInfo().catch(() => null);
const LAYERS = Object.fromEntries((info?.layers ?? [])  // the feature maps drawn as galleries: name -> [maps, side]
  .filter(({ name, shape }) => info.feature_maps.includes(name) && shape.length === 3)
  .map(({ name, shape }) => [name, [shape[0], shape[1]]]));
const THROTTLE_MS = 60;  // at most one prediction per 60 ms while drawing
const RETRY_MS = 3000;   // while the server is away

const galleries = Object.fromEntries(
  Object.entries(LAYERS).map(([name, [count, side]]) => [name, makeGallery($(`#maps-${name}`), count, side, name)]),
);
const [kernelCount, kernelSide] = info?.param_shapes.k1 ?? [0, 0];
const kernelCanvases = makeGallery($("#kernels"), kernelCount, kernelSide, "kernel k1");
const inputCanvas = $("#input");
const bars = makeBars($("#bars"));
const pad = new Sketchpad($("#pad"), changed);
const explorer = new Explorer(info?.gradients ?? []);
// The equations with the drawing's numbers: which cell was clicked, in which map.
const cellOf = (canvas, event) => {
  const box = canvas.getBoundingClientRect();
  return [Math.min(canvas.height - 1, Math.floor((event.clientY - box.top) / box.height * canvas.height)),
          Math.min(canvas.width - 1, Math.floor((event.clientX - box.left) / box.width * canvas.width))];
};
const labelFor = () => {  // the digit to blame, else the one the network reads
  const read = parseInt($("#answer").textContent, 10);
  return explorer.label ?? (Number.isNaN(read) ? 0 : read);
};
for (const name of ["C1", "P1"])
  galleries[name]?.forEach((canvas, i) => canvas.addEventListener("click", (e) =>
    showEquation(name === "C1" ? "S1" : "P1", [i, ...cellOf(canvas, e)], explorer.grid, labelFor(), servingParams)));
bars.forEach((bar, j) => bar.addEventListener("click", () => showEquation("O", [j], explorer.grid, labelFor(), servingParams)));
explorer.onEquation = (gradient, index) =>
  showEquation(gradient === "dLP2" ? "dLC2" : "dLk1", index, explorer.grid, labelFor(), explorer.params);

// After a nudge, the explorer's grid is shown as the network's input, with the answer for it.
explorer.onGrid = async (grid) => {
  const result = await api.predict(grid, { params: servingParams }).catch(() => null);
  if (result) show(result);
};
let servingParams = null;  // a network trained on this page answers instead of the shared one
new Trainer((params) => {
  servingParams = params;
  if (!pad.isEmpty) schedule(true);
});

// --- live predictions: one request at a time, the newest drawing next, stale answers dropped ---

let inFlight = null;      // the AbortController of the request under way
let pending = false;      // the drawing changed while a request was under way
let timer = null;         // a send waiting for the throttle
let lastSentAt = -Infinity;
let changedAt = 0;        // when the drawing last changed
window.cnnMetrics = [];   // { latency, final }: from a change of the drawing to its answer on screen

function changed({ final }) {
  changedAt = performance.now();
  if (final && inFlight) { inFlight.abort(); inFlight = null; } // its answer is for a drawing now gone
  if (pad.isEmpty) { clearTimeout(timer); timer = null; showBlank(); return; }
  schedule(final);
}

function schedule(final = false) {
  if (inFlight) { pending = true; return; }
  const wait = final ? 0 : lastSentAt + THROTTLE_MS - performance.now();
  clearTimeout(timer);
  timer = wait > 0 ? setTimeout(send, wait) : (send(), null);
}

async function send() {
  timer = null;
  pending = false;
  let grid;
  try {
    grid = normalize(inkOfPixels(pad.pixels()));
  } catch (e) {
    if (e instanceof EmptyDrawing) return showBlank();
    throw e;
  }
  const controller = (inFlight = new AbortController());
  const drawnAt = changedAt, final = !pad.current;
  lastSentAt = performance.now();
  try {
    const result = await api.predict(grid, { signal: controller.signal, params: servingParams });
    if (controller.signal.aborted) return;
    show(result);
    if (final) explorer.update(grid);  // backpropagation for the finished stroke, if a digit is chosen
    if (final) $("#share").disabled = false;
    window.cnnMetrics.push({ latency: performance.now() - drawnAt, final: final && drawnAt === changedAt });
    setStatus(null);
  } catch (e) {
    if (e.name === "AbortError") return;
    if (e instanceof api.ServerUnreachable) {
      setStatus("offline", "Can't reach the server. Is it running (<code>python -m app</code>)? " +
                           "Your drawing is kept; trying again every few seconds.");
      setTimeout(() => { if (!pad.isEmpty && !inFlight) schedule(true); }, RETRY_MS);
    } else {
      setStatus("error", e.message);
    }
  } finally {
    if (inFlight === controller) inFlight = null;
    if (pending && !pad.isEmpty) schedule();
  }
}

// --- what the page shows ---

function show({ label, probabilities, unsure, input, feature_maps: maps }) {
  paintMap(inputCanvas, input, 1, { name: "input" });
  for (const [name, canvases] of Object.entries(galleries)) {
    const vmax = maxOf(maps[name]);
    canvases.forEach((canvas, i) => paintMap(canvas, maps[name][i], vmax, { name: `${name}[${i}]` }));
    $(`#vmax-${name}`).textContent = vmax.toFixed(2);
  }
  paintBars(bars, probabilities, label);
  const percent = (100 * probabilities[label]).toFixed(1);
  // Below the threshold chosen on validation data the answer is a guess: say so, and name the runner-up.
  const second = probabilities.map((p, d) => [p, d]).filter(([, d]) => d !== label).sort((a, b) => b[0] - a[0])[0][1];
  $("#answer").textContent = unsure ? `${label}?` : label;
  $("#confidence").textContent = unsure ? `unsure: ${percent}%, perhaps a ${second}` : `${percent}% sure`;
  $("#live").textContent = unsure
    ? `The network is unsure: perhaps ${label}, perhaps ${second}.`
    : `The network reads ${label}, ${(100 * probabilities[label]).toFixed(0)} percent sure.`;
  document.body.dataset.state = "predicted";
  document.body.dataset.unsure = unsure ? "true" : "false";
}

function showBlank() {
  clearMap(inputCanvas);
  Object.values(galleries).flat().forEach(clearMap);
  Object.keys(LAYERS).forEach((name) => { $(`#vmax-${name}`).textContent = "–"; });
  paintBars(bars, null, null);
  $("#answer").textContent = "?";
  $("#confidence").textContent = "draw a digit";
  explorer?.update(null);
  $("#live").textContent = "The pad is empty.";
  document.body.dataset.state = "blank";
}

function setStatus(kind, html) {
  const status = $("#status");
  status.hidden = !kind;
  status.className = kind ? `status ${kind}` : "status";
  if (kind) status.innerHTML = html;
}

// --- controls ---

$("#clear").addEventListener("click", () => pad.clear());
$("#undo").addEventListener("click", () => pad.undo());
document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, textarea, select")) return;
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { e.preventDefault(); pad.undo(); }
  else if (!e.ctrlKey && !e.metaKey && ["Delete", "Backspace", "c", "C"].includes(e.key)) { e.preventDefault(); pad.clear(); }
});
enableHover(document.body, $("#tooltip"));
document.querySelectorAll(".legend").forEach((el) => { el.style.background = gradientCss(el.dataset.diverging === "true"); });

async function loadExtras() {
  try {
    if (!info) throw new Error("GET /model failed");
    const accuracy = (100 * info.metadata.test_accuracy).toFixed(2);
    $("#model-facts").textContent = `${info.parameters.toLocaleString("en")} parameters · ${accuracy}% on MNIST's 10,000 test digits`;
    const { k1 } = await api.kernels();
    const kmax = maxOf(k1.map((k) => k.map((row) => row.map(Math.abs))));
    kernelCanvases.forEach((canvas, i) => paintMap(canvas, k1[i], kmax, { diverging: true, name: `k1[${i}]` }));
    const { digits, source } = await api.samples();
    const list = $("#samples");
    list.title = source;
    for (const digit of digits) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sample";
      button.setAttribute("aria-label", `Load a sample ${digit.label} from MNIST's test set (image ${digit.index})`);
      const canvas = document.createElement("canvas");
      paintThumbnail(canvas, digit.pixels);
      button.append(canvas);
      button.addEventListener("click", () => pad.loadGrid(digit.pixels));
      list.append(button);
    }
  } catch (e) {
    setStatus("offline", "Can't reach the server, so the network's details are missing. Is it running " +
                         "(<code>python -m app</code>)? Reload the page once it is.");
  }
}

// --- share it: the state in the link ---

$("#share").addEventListener("click", async () => {
  if (!explorer.grid) return;
  const fragment = await encodeState({ grid: explorer.grid, label: explorer.label, params: explorer.params, steps: explorer.steps });
  const link = `${location.origin}${location.pathname}#${fragment}`;
  history.replaceState(null, "", `#${fragment}`);
  const field = $("#share-link");
  field.hidden = false;
  field.value = link;
  field.select();
  navigator.clipboard?.writeText(link).catch(() => {});  // the field holds it either way
});

async function openShared() {
  if (!location.hash.startsWith("#s=")) return;
  try {
    const { grid, label, params, steps } = await decodeState(location.hash.slice(1));
    explorer.params = params;
    explorer.steps = params ? steps : 0;
    if (params) $("#reset").disabled = false;
    if (label !== null) explorer.choose(label);
    const result = await api.predict(grid, { params: servingParams });
    show(result);
    explorer.update(grid);
    $("#share").disabled = false;
    setStatus("info", "Opened from a share link: the drawing it holds is shown as the network's input.");
  } catch (e) {
    setStatus("error", e instanceof BadLink ? `${e.message}; draw a digit instead.` : e.message);
  }
}

showBlank();
loadExtras();
openShared();
