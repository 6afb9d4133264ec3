// The class's page on a phone (/c/{code}): draw, see the answer, choose the digit you meant (never
// guessed for you), save into the class. The class's events (EventSource) say when saving pauses or
// opens, and when the teacher hands the class its own network: the page switches to it at once.
import * as api from "./api.js";
import { classNetwork, phoneEvents, publicClass } from "./classes-api.js";
import { $ } from "./dom.js";
import { Sketchpad } from "./draw.js";
import { EmptyDrawing, inkOfPixels, normalize } from "./normalize.js";
import { hookSaveButton } from "./save.js";

const code = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "").toUpperCase();
const STATES = {
  open: "",
  paused: "Saving is paused by your teacher.",
  closed: "This class is closed: saving has ended.",
  deleted: "This class has ended.",
};

let grid = null;          // the drawing as the network reads it (28x28), or null
let meant = null;         // the digit chosen, or null: never defaulted to the network's answer
let state = "open";
let network = null;       // the class's own: { params, sha256, drawings } or null
let reading = 0;          // the newest prediction asked for: older answers are dropped

const digits = $("#digits");
for (let d = 0; d <= 9; d++) {
  const button = Object.assign(document.createElement("button"), { type: "button", textContent: String(d) });
  button.setAttribute("aria-pressed", "false");
  button.setAttribute("aria-label", `I meant a ${d}`);
  button.addEventListener("click", () => choose(d));
  digits.append(button);
}

function choose(d) {
  meant = d;
  for (const b of digits.children) b.setAttribute("aria-pressed", String(Number(b.textContent) === d));
  refreshAll();
}

function showNetwork() {
  $("#answering").textContent = network
    ? `the class's copy, tuned on ${network.drawings} drawing${network.drawings === 1 ? "" : "s"}`
    : "the shared network";
  $("#compare").hidden = !network;
  $("#compared").hidden = true;
}

function showState() {
  document.body.dataset.classState = state;
  $("#class-state").textContent = STATES[state] ?? "";
  refreshAll();
}

const pad = new Sketchpad($("#pad"), ({ final }) => { if (final) read(); });
$("#undo").addEventListener("click", () => pad.undo());
$("#clear").addEventListener("click", () => pad.clear());

async function read() {
  const asked = ++reading;
  $("#compared").hidden = true;
  try {
    grid = normalize(inkOfPixels(pad.pixels()));
  } catch (e) {
    if (!(e instanceof EmptyDrawing)) throw e;
    grid = null;
    $("#answer").textContent = "?";
    $("#confidence").textContent = "draw a digit";
    refreshAll();
    return;
  }
  refreshAll();
  const answer = await api.predict(grid, { params: network?.params ?? null }).catch(() => null);
  if (asked !== reading || !answer) return;
  const result = calibrated(answer, network?.calibration);
  const p = Math.round(100 * result.probabilities[result.label]);
  $("#answer").textContent = result.unsure ? `${result.label}?` : String(result.label);
  $("#confidence").textContent = result.unsure ? `unsure: ${p}%` : `${p}% sure`;
}

// The class's copy read with its own calibration (fitted when it was tuned): /predict answers a copy's
// probabilities p = softmax(S), so softmax(ln p / T) = softmax(S / T), and below unsure_below it says "unsure".
function calibrated(answer, calibration) {
  if (!calibration) return answer;
  const scaled = answer.probabilities.map((p) => Math.log(Math.max(p, 1e-300)) / calibration.temperature);
  const top = Math.max(...scaled);
  const e = scaled.map((s) => Math.exp(s - top));
  const sum = e.reduce((a, b) => a + b, 0);
  const probabilities = e.map((x) => x / sum);
  const label = probabilities.indexOf(Math.max(...probabilities));
  return { ...answer, label, probabilities, unsure: probabilities[label] < calibration.unsure_below };
}

$("#compare").addEventListener("click", async () => {
  if (!grid) { $("#compared").hidden = false; $("#compared").textContent = "Draw a digit first."; return; }
  const shared = await api.predict(grid).catch(() => null);
  if (!shared) return;
  const p = Math.round(100 * shared.probabilities[shared.label]);
  $("#compared").hidden = false;
  $("#compared").textContent = `The shared network reads ${shared.label} (${p}% sure); the class's copy: ${$("#answer").textContent}.`;
});

const refresh = hookSaveButton(
  $("#save"),
  () => (grid && meant !== null && state === "open" ? { grid, label: meant } : null),
  (sentence, kind) => { const out = $("#saved"); out.textContent = sentence; out.dataset.kind = kind; },
  () => "the shared network",  // a save is always read by the served network, whichever answers here
  code,
);
function refreshAll() {
  $("#chosen").textContent = meant === null ? "Choose the digit you meant." : `You meant a ${meant}.`;
  refresh();
}

async function switchTo(info) {
  if (!info || !info.sha256) { network = null; showNetwork(); read(); return; }
  if (network && network.sha256 === info.sha256) return;
  const got = await classNetwork(code).catch(() => null);
  if (!got) return;
  network = got;
  showNetwork();
  if (grid) read();
}

async function start() {
  $("#class-code").textContent = code;
  try {
    const found = await publicClass(code);
    $("#class-name").textContent = found.name;
    document.title = `${found.name} · draw digits for the network`;
    state = found.state;
    await switchTo(found.network);
  } catch (e) {
    $("#class-name").textContent = "No such class";
    $("#class-state").textContent = `${e.message}.`;
    state = "deleted";
  }
  showState();
  document.body.dataset.state = "ready";
  if (state === "deleted") return;
  phoneEvents(code, (kind, data) => {
    if (kind === "hello" || kind === "state") {
      state = data.state;
      if (data.name) $("#class-name").textContent = data.name;
      showState();
    }
    if (kind === "hello" || kind === "network") switchTo(kind === "hello" ? data.network : data);
  });
}

start();
