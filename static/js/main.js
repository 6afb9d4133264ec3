// The page: the drawing pad -> normalisation -> POST /predict -> every layer painted, by the one
// network that answers (js/networks.js), which every panel describes.
import * as api from "./api.js";
import { Sketchpad } from "./draw.js";
import { Explorer } from "./explorer.js";
import { showEquation } from "./equations.js";
import { Networks } from "./networks.js";
import { closePopover, openBeside, setUpPopover } from "./popover.js";
import { hookSaveButton } from "./save.js";
import { BadLink, decodeState, encodeState, limits } from "./share.js";
import { Trainer, firstKernels } from "./trainer.js";
import { EmptyDrawing, inkOfPixels, normalize } from "./normalize.js";
import {
  clearMap, enableCells, enableHover, gradientCss, makeBars, makeGallery, maxOf, paintBars, paintMap, paintThumbnail,
} from "./render.js";

const $ = (selector) => document.querySelector(selector);
// The network's layers, shapes, equation numbers and limits come from the service (GET /model, which
// takes them from model/architecture.py and the training code); the page writes none of them down.
const info = await api.modelInfo().catch(() => null);
const LAYERS = Object.fromEntries((info?.layers ?? [])  // the feature maps drawn as galleries: name -> [maps, side]
  .filter(({ name, shape }) => info.feature_maps.includes(name) && shape.length === 3)
  .map(({ name, shape }) => [name, [shape[0], shape[1]]]));
const SIDE = info?.layers.find(({ name }) => name === "I")?.shape[0] ?? 0;  // the input grid's side
const KERNELS = (info?.param_shapes.k1 ?? [0, 0, 0]).slice(0, 2);           // [count, side] of k1
const LINKS = info ? limits(SIDE, info.parameters) : null;
const THROTTLE_MS = 60;  // at most one prediction per 60 ms while drawing
const RETRY_MS = 3000;   // while the server is away

const galleries = Object.fromEntries(
  Object.entries(LAYERS).map(([name, [count, side]]) => [name, makeGallery($(`#maps-${name}`), count, side, name)]),
);
const kernelCanvases = makeGallery($("#kernels"), KERNELS[0], KERNELS[1], "kernel k1");
const inputCanvas = $("#input");
const bars = makeBars($("#bars"));
const pad = new Sketchpad($("#pad"), changed);
let shownGrid = null;  // the grid whose answer is on screen
const networks = new Networks(info, networkChanged);
const explorer = new Explorer(info?.gradients ?? [], networks, {
  onGrid: (grid, final) => { pad.showGrid(grid); answer(grid, final); },  // a nudge's frames
  onEquation: (gradient, index, canvas) => explainCell(gradient, index, canvas),
  onChecked: (text, canvas, withEquation) => {
    $("#pop-check").textContent = text;
    if (!withEquation) { $("#equation").replaceChildren(); delete $("#equation").dataset.kind; }
    openBeside(canvas);
  },
});
const trainer = new Trainer(info?.training, KERNELS, {
  onRun: (run) => (run ? networks.set("scratch", { params: run.params, steps: run.step, accuracy: run.heldout_accuracy })
                       : networks.remove("scratch")),
  onUse: (on) => networks.use(on ? "scratch" : "shared"),
});

// --- saving the drawing for the class, beside its answer (only where the service collects) ---

const saveDigit = $("#save-digit"), saved = $("#saved"), HINT = saved.textContent;
let digitChosen = false;  // the visitor chose the digit they meant; else it follows the answer
function tellSaved(sentence, kind = "") {
  // In the flow (a laptop), its box may grow after a click but never shrinks under the pen; on a phone
  // it floats over the confidence until the next stroke, and moves nothing.
  if (getComputedStyle(saved).position === "static") saved.style.minHeight = `${saved.offsetHeight}px`;
  saved.textContent = sentence;
  saved.dataset.kind = kind;
}
const forgetSaved = () => { if (saved.dataset.kind) tellSaved(HINT); };  // the sentence was about another drawing
const refreshSave = hookSaveButton(
  $("#save"),
  () => (shownGrid ? { grid: shownGrid, label: Number(saveDigit.value) } : null),
  tellSaved,
  () => (networks.active === "shared" ? "the network" : "the shared network"),
);
$("#for-class").hidden = !info?.collecting;  // decided before the first paint: its arrival moves nothing
document.body.dataset.collecting = String(Boolean(info?.collecting));
saveDigit.addEventListener("change", () => { digitChosen = true; forgetSaved(); refreshSave(); });

// --- a click's result, beside what was clicked ---

const labelFor = () => {  // the digit to blame, else the one the network reads
  const read = parseInt($("#answer").textContent, 10);
  return explorer.label ?? (Number.isNaN(read) ? 0 : read);
};
async function explainCell(kind, index, anchor) {
  $("#pop-check").textContent = "";
  openBeside(anchor);
  await showEquation(kind, index, explorer.grid, labelFor(), networks.params);
  openBeside(anchor);  // its size changed
}
setUpPopover();
const cursor = $("#cell-cursor"), tooltip = $("#tooltip");
// Every map names its quantity and its shape (GET /model's).
for (const { name, shape } of info?.layers ?? [])
  $(`#h-${name === "I" ? "input" : name}`)?.insertAdjacentHTML("beforeend", ` <span class="shape">${shape.join("×")}</span>`);
const OPENS = { C1: "S1", P1: "P1", C2: "S2", P2: "P2" };  // a map's cell opens its equation
for (const name of Object.keys(OPENS))
  galleries[name]?.forEach((canvas, i) => {
    canvas.setAttribute("aria-label", `${name} map ${i + 1}: arrow keys choose a cell, Enter shows its equation`);
    enableCells(canvas, (cell) => explainCell(OPENS[name], [i, ...cell], canvas), cursor, tooltip);
  });
bars.forEach((bar, j) => bar.addEventListener("click", () => explainCell("O", [j], bar)));

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
    const result = await api.predict(grid, { signal: controller.signal, params: networks.params });
    if (controller.signal.aborted) return;
    show(result, grid);
    if (final) explorer.update(grid);  // backpropagation for the finished stroke, if a digit is chosen
    window.cnnMetrics.push({ latency: performance.now() - drawnAt, final: final && drawnAt === changedAt });
    if (statusKind !== "info") setStatus(null);
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

// A grid answered at once (a nudge's frame, a shared drawing, another network chosen).
async function answer(grid, final = true) {
  const result = await api.predict(grid, { params: networks.params }).catch((e) => { setStatus("error", e.message); return null; });
  if (!result) return;
  show(result, grid);
  if (final) explorer.update(grid);
}

// --- what the page shows ---

function show({ label, probabilities, unsure, input, feature_maps: maps }, grid) {
  if (grid !== shownGrid) forgetSaved();
  shownGrid = grid;
  saveDigit.disabled = false;
  if (!digitChosen) saveDigit.value = String(label);
  refreshSave();
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
  $("#share").disabled = false;
  document.body.dataset.state = "predicted";
  document.body.dataset.unsure = unsure ? "true" : "false";
}

function showBlank() {
  shownGrid = null;
  digitChosen = false;
  saveDigit.disabled = true;
  forgetSaved();
  refreshSave();
  clearMap(inputCanvas);
  Object.values(galleries).flat().forEach(clearMap);
  Object.keys(LAYERS).forEach((name) => { $(`#vmax-${name}`).textContent = "–"; });
  paintBars(bars, null, null);
  $("#answer").textContent = "?";
  $("#confidence").textContent = "draw a digit";
  $("#share").disabled = true;
  explorer.update(null);
  closePopover({ refocus: false });
  $("#live").textContent = "The pad is empty.";
  document.body.dataset.state = "blank";
}

// The status floats over the page (it moves nothing); a note goes away after a while, or as soon as
// the pen touches the pad, so that it never covers the drawing.
let statusKind = null, statusTimer = null;
function setStatus(kind, html) {
  const status = $("#status");
  statusKind = kind;
  status.hidden = !kind;
  status.className = kind ? `status ${kind}` : "status";
  if (kind) status.innerHTML = html;
  clearTimeout(statusTimer);
  if (kind === "info") statusTimer = setTimeout(() => setStatus(null), 8000);
}
$("#pad").addEventListener("pointerdown", () => { if (statusKind === "info") setStatus(null); });

// The kernels of the network that answers.
let sharedKernels = null;
async function paintKernels() {
  let k1;
  if (networks.params) k1 = firstKernels(networks.params, KERNELS);
  else k1 = (sharedKernels ??= (await api.kernels()).k1);
  const kmax = maxOf(k1.map((k) => k.map((row) => row.map(Math.abs))));
  kernelCanvases.forEach((canvas, i) => paintMap(canvas, k1[i], kmax, { diverging: true, name: `k1[${i}]` }));
}

// Another network answers: every panel follows it.
function networkChanged() {
  trainer.showUse(networks.active === "scratch");
  $("#reset").disabled = !networks.has("taught");
  paintKernels().catch(() => {});
  closePopover({ refocus: false });
  if (shownGrid) answer(shownGrid);
}

// --- controls ---

$("#clear").addEventListener("click", () => pad.clear());
$("#undo").addEventListener("click", () => pad.undo());
$("#reset").addEventListener("click", () => explorer.forgotten());
enableHover(document.body, tooltip);
document.querySelectorAll(".legend").forEach((el) => { el.style.background = gradientCss(el.dataset.diverging === "true"); });

$("#download-onnx").addEventListener("click", async () => {
  const whose = networks.describe();
  try {
    const blob = await api.onnx(networks.params);
    const link = Object.assign(document.createElement("a"), {
      href: URL.createObjectURL(blob), download: networks.params ? `digits-${networks.active}.onnx` : "digits.onnx",
    });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    setStatus("info", `Downloaded ${whose} as ONNX (${blob.size.toLocaleString("en")} bytes).`);
  } catch (e) {
    setStatus("error", e.status === 404 ? "This server cannot export ONNX (GET /model.onnx is missing)." : e.message);
  }
});

async function loadExtras() {
  try {
    if (!info) throw new Error("GET /model failed");
    const { digits, source } = await api.samples();
    const list = $("#samples");
    list.title = source;
    for (const digit of digits) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sample";
      button.setAttribute("aria-label", `Load a sample ${digit.label} from MNIST's test set (image ${digit.index})`);
      button.append(paintThumbnail(document.createElement("canvas"), digit.pixels));
      button.addEventListener("click", () => pad.loadGrid(digit.pixels));
      list.append(button);
    }
  } catch (e) {
    setStatus("offline", "Can't reach the server, so the network's details are missing. Is it running " +
                         "(<code>python -m app</code>)? Reload the page once it is.");
  }
}

// --- share it: the state in the link ---

function shareState() {
  const kind = networks.active, e = networks.entries[kind];
  const state = { grid: explorer.grid ?? shownGrid, label: explorer.label, kind, sha: info.sha256 };
  if (kind === "taught") return { ...state, base: e.base, count: e.baseSteps ?? 0, lessons: e.lessons };
  if (kind === "scratch") return { ...state, base: e.params, count: e.steps };
  if (kind === "class") return { ...state, base: e.params, count: e.drawings };
  return state;
}

$("#share").addEventListener("click", async () => {
  if (!shownGrid || !LINKS) return;
  const state = shareState();
  const fragment = await encodeState(state, LINKS).catch((e) => {
    if (!(e instanceof BadLink)) throw e;  // too many lessons: the parameters they made travel instead
    const copy = networks.entries.taught;
    return encodeState({ ...state, base: copy.params, count: copy.steps, lessons: [] }, LINKS);
  });
  const link = `${location.origin}${location.pathname}#${fragment}`;
  history.replaceState(null, "", `#${fragment}`);
  const field = $("#share-link");
  field.hidden = false;
  field.value = link;
  field.select();
  const copied = $("#copied");
  try {
    await navigator.clipboard.writeText(link);
    copied.textContent = `Copied (${link.length.toLocaleString("en")} characters)`;
  } catch {
    copied.textContent = "Copy it from the field";
  }
  copied.dataset.length = String(link.length);
});

async function openShared() {
  if (!location.hash.startsWith("#s=") || !LINKS) return;
  try {
    const state = await decodeState(location.hash.slice(1), LINKS);
    let note = "Opened from a share link: its drawing is on the pad and answered by the network it was shared with.";
    if (state.label !== null) explorer.choose(state.label);
    pad.showGrid(state.grid);
    if (state.kind === "taught" && !state.base && state.lessons.length && !info.sha256.startsWith(state.sha)) {
      note = "Opened from a share link whose lessons were given to another version of the shared network: " +
             "the drawing is shown, the lessons are not replayed.";
    } else if (state.kind === "taught") {
      let params = state.base;
      for (const { grid, label, lr } of state.lessons) params = (await api.teach(grid, label, lr, params)).params;
      networks.set("taught", { params, steps: state.count + state.lessons.length, base: state.base,
                               baseSteps: state.count, lessons: state.lessons }, { use: true });
    } else if (state.kind === "scratch") {
      networks.set("scratch", { params: state.base, steps: state.count }, { use: true });
    } else if (state.kind === "class") {
      networks.set("class", { params: state.base, drawings: state.count }, { use: true });
    }
    await answer(state.grid);
    setStatus("info", note);
  } catch (e) {
    setStatus("error", e instanceof BadLink ? `${e.message}; draw a digit instead.` : e.message);
  }
}

await loadExtras();
showBlank();
networkChanged();
openShared();

// The guided tour walks the drawing on screen, with the network that answers and the digit chosen below.
// Loaded once the page is up: its modules never delay the first answer or a share link's message.
import("./tour.js").then(({ Tour }) => new Tour(info, () => ({
  grid: explorer.grid ?? shownGrid, label: explorer.label, params: networks.params, whose: networks.describe(),
})));
