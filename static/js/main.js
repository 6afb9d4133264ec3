// The page: the drawing pad -> normalisation -> POST /predict -> every layer painted, by the one
// network that answers (js/networks.js), which every panel describes.
import * as api from "./api.js";
import { $ } from "./dom.js";
import { Sketchpad } from "./draw.js";
import { Explorer } from "./explorer.js";
import { showEquation } from "./equations.js";
import { download } from "./files.js";
import { LiveAnswer } from "./live.js";
import { Networks } from "./networks.js";
import { closePopover, openBeside, setUpPopover } from "./popover.js";
import { hookSaveButton } from "./save.js";
import { BadLink, checkNetwork, decodeState, encodeState, limits } from "./share.js";
import { hideNoteOn, setStatus } from "./status.js";
import { Trainer, firstKernels } from "./trainer.js";
import {
  clearMap, enableCells, enableHover, gradientCss, makeBars, makeGallery, maxOf, paintBars, paintMap, paintThumbnail,
} from "./render.js";

// The network's layers, shapes, equation numbers and limits come from the service (GET /model, which
// takes them from model/architecture.py and the training code); the page writes none of them down.
const info = await api.modelInfo().catch(() => null);
const LAYERS = Object.fromEntries((info?.layers ?? [])  // the feature maps drawn as galleries: name -> [maps, side]
  .filter(({ name, shape }) => info.feature_maps.includes(name) && shape.length === 3)
  .map(({ name, shape }) => [name, [shape[0], shape[1]]]));
const SIDE = info?.layers.find(({ name }) => name === "I")?.shape[0] ?? 0;  // the input grid's side
const KERNELS = (info?.param_shapes.k1 ?? [0, 0, 0]).slice(0, 2);           // [count, side] of k1
const LINKS = info ? limits(SIDE, info.parameters) : null;

const galleries = Object.fromEntries(
  Object.entries(LAYERS).map(([name, [count, side]]) => [name, makeGallery($(`#maps-${name}`), count, side, name)]),
);
const kernelCanvases = makeGallery($("#kernels"), KERNELS[0], KERNELS[1], "kernel k1");
const inputCanvas = $("#input");
const bars = makeBars($("#bars"));
const pad = new Sketchpad($("#pad"), (change) => live.changed(change));
// What is on screen: the grid whose answer is shown, and the shared network's kernels once fetched.
const shown = { grid: null, kernels: null };
const networks = new Networks(info, networkChanged);
const explorer = new Explorer(info?.gradients ?? [], networks, {
  onGrid: (grid, final) => { pad.showGrid(grid); live.answer(grid, final); },  // a nudge's frames
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
const live = new LiveAnswer(pad, {
  params: () => networks.params,
  show: (result, grid, final) => {
    show(result, grid);
    if (final) explorer.update(grid);  // backpropagation for the finished stroke, if a digit is chosen
  },
  blank: () => showBlank(),
});

// --- saving the drawing for the class, beside its answer (only where the service collects) ---

const saveDigit = $("#save-digit"), saved = $("#saved"), HINT = saved.textContent;
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
  // The digit meant is the visitor's choice, never the network's answer: nothing to save until it is made.
  () => (shown.grid && saveDigit.value !== "" ? { grid: shown.grid, label: Number(saveDigit.value) } : null),
  tellSaved,
  () => (networks.active === "shared" ? "the network" : "the shared network"),
);
$("#for-class").hidden = !info?.collecting;  // decided before the first paint: its arrival moves nothing
document.body.dataset.collecting = String(Boolean(info?.collecting));
saveDigit.addEventListener("change", () => { forgetSaved(); refreshSave(); });

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
// A map's cell opens the first equation kind of its layer's number (GET /model's): C1's (1) is S1's sum.
const opens = (name) => {
  const number = info.layers.find((layer) => layer.name === name).equation;
  return info.equations.find(({ equation }) => equation === number)?.name;
};
for (const [name, canvases] of Object.entries(galleries)) {
  const kind = opens(name);
  if (kind) canvases.forEach((canvas, i) => {
    canvas.setAttribute("aria-label", `${name} map ${i + 1}: arrow keys choose a cell, Enter shows its equation`);
    enableCells(canvas, (cell) => explainCell(kind, [i, ...cell], canvas), cursor, tooltip);
  });
}
// The equations backpropagation follows, from the first gradient's to the last the article derives.
const derived = (info?.gradients ?? []).filter(({ equation }) => equation !== "-");
if (derived.length) $("#gradient-equations").textContent = `${derived[0].equation} to ${derived.at(-1).equation}`;
bars.forEach((bar, j) => bar.addEventListener("click", () => explainCell("O", [j], bar)));

// --- what the page shows ---

function show({ label, probabilities, unsure, input, feature_maps: maps }, grid) {
  if (grid !== shown.grid) forgetSaved();
  shown.grid = grid;
  saveDigit.disabled = false;
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
  shown.grid = null;
  saveDigit.value = "";  // a new drawing: its digit is chosen anew
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

hideNoteOn($("#pad"));

// The kernels of the network that answers.
async function paintKernels() {
  let k1;
  if (networks.params) k1 = firstKernels(networks.params, KERNELS);
  else k1 = (shown.kernels ??= (await api.kernels()).k1);
  const kmax = maxOf(k1.map((k) => k.map((row) => row.map(Math.abs))));
  kernelCanvases.forEach((canvas, i) => paintMap(canvas, k1[i], kmax, { diverging: true, name: `k1[${i}]` }));
}

// Another network answers: every panel follows it.
function networkChanged() {
  trainer.showUse(networks.active === "scratch");
  $("#reset").disabled = !networks.has("taught");
  paintKernels().catch(() => {});
  closePopover({ refocus: false });
  if (shown.grid) live.answer(shown.grid);
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
    download({ blob, name: networks.params ? `digits-${networks.active}.onnx` : "digits.onnx" });
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
  const state = { grid: explorer.grid ?? shown.grid, label: explorer.label, kind, sha: info.sha256 };
  if (kind === "taught") return { ...state, base: e.base, count: e.baseSteps ?? 0, lessons: e.lessons };
  if (kind === "scratch") return { ...state, base: e.params, count: e.steps };
  if (kind === "class") return { ...state, base: e.params, count: e.drawings };
  return state;
}

$("#share").addEventListener("click", async () => {
  if (!shown.grid || !LINKS) return;
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
    const state = checkNetwork(await decodeState(location.hash.slice(1), LINKS), info.sha256);
    const note = "Opened from a share link: its drawing is on the pad and answered by the network it was shared with.";
    if (state.label !== null) explorer.choose(state.label);
    pad.showGrid(state.grid);
    if (state.kind === "taught") {
      let params = state.base;
      for (const { grid, label, lr } of state.lessons) params = (await api.teach(grid, label, lr, params)).params;
      networks.set("taught", { params, steps: state.count + state.lessons.length, base: state.base,
                               baseSteps: state.count, lessons: state.lessons }, { use: true });
    } else if (state.kind === "scratch") {
      networks.set("scratch", { params: state.base, steps: state.count }, { use: true });
    } else if (state.kind === "class") {
      networks.set("class", { params: state.base, drawings: state.count }, { use: true });
    }
    await live.answer(state.grid);
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
  grid: explorer.grid ?? shown.grid, label: explorer.label, params: networks.params, whose: networks.describe(),
})));
