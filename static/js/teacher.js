// The teacher's view: the class's drawings, how the network reads them, export, fine-tuning.
// The token lives in this tab's sessionStorage only and travels only in the Authorization header.

import { modelInfo } from "./api.js";
import { $, CLASS_COPY_KEY, TEACHER_TOKEN_KEY } from "./dom.js";
import * as drawings from "./drawings-api.js";
import { download } from "./files.js";
import { renderMatrix } from "./matrix.js";
import { pictureOf } from "./render.js";

const percent = (x) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)}%`);

const MAX_RETRIES = 30; // a fine-tune's round waits this many times for a busy server before it gives up

const state = {
  token: null, digit: null, wrong: false, next: null, tuned: null, stop: false, pending: null, classCode: null,
  recount: null,  // a burst of live drawings: one recount after it
};
const selected = new Set(); // ids ticked in the gallery, for "Delete selected"
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const service = { info: null };  // GET /model, once it has answered

// A fine-tune's round: as many steps as one POST /drawings/tune may take (GET /model's training.tune_steps).
async function stepsPerRound() {
  service.info ??= await modelInfo();
  return service.info.training.tune_steps;
}

function signedOut(message = "") {
  sessionStorage.removeItem(TEACHER_TOKEN_KEY);
  state.token = null;
  $("#collection").hidden = true;
  $("#sign-in").hidden = false;
  $("#sign-in-status").textContent = message;
  document.dispatchEvent(new CustomEvent("teacher:out"));
}

// Every failure of the teacher's requests: a lost token sends back to sign-in, the rest is said where it happened.
function failed(e, where) {
  if (e.status === 401) signedOut("That token is not the teacher's.");
  else if (e.status === 404 && where === $("#sign-in-status")) where.textContent = "This service does not collect drawings: start it with CNN_TEACHER_TOKEN set.";
  else where.textContent = e.message;
}

async function open(token) {
  state.token = token;
  try {
    await refreshSummary();
  } catch (e) {
    state.token = null;
    failed(e, $("#sign-in-status"));
    return;
  }
  sessionStorage.setItem(TEACHER_TOKEN_KEY, token);
  $("#sign-in").hidden = true;
  $("#collection").hidden = false;
  document.dispatchEvent(new CustomEvent("teacher:open", { detail: { token } }));  // class-board.js
  await showDrawings();
}

async function refreshSummary() {
  const s = await drawings.summary(state.token, state.classCode);
  const right = s.confusion.reduce((sum, row, i) => sum + row[i], 0);
  $("#summary-line").textContent = s.total
    ? `${s.total} drawing${s.total === 1 ? "" : "s"}; the network reads ${right} of them as meant (${percent(s.accuracy)}).`
    : "No drawings yet: ask the class to draw and save.";
  renderConfusion(s.confusion);
  renderDigits(s.counts, s.total);
}

function renderConfusion(matrix) {
  renderMatrix($("#confusion"), matrix, {
    caption: "Drawings by the digit meant (rows) and the network's answer (columns)", captionClass: "visually-hidden",
  });
}

function renderDigits(counts, total) {
  const group = $("#digits");
  group.replaceChildren();
  const choices = [[null, `All (${total})`], ...counts.map((n, d) => [d, `${d} (${n})`])];
  for (const [digit, text] of choices) {
    const b = Object.assign(document.createElement("button"), { type: "button", textContent: text, className: "quiet" });
    b.setAttribute("aria-pressed", String(state.digit === digit));
    b.addEventListener("click", () => { state.digit = digit; renderDigits(counts, total); showDrawings(); });
    group.append(b);
  }
}

function card(item) {
  const li = document.createElement("li");
  li.dataset.id = item.id;
  const wrong = item.answer !== item.label;
  if (wrong) li.className = "wrong";
  const meant = Object.assign(document.createElement("p"), { textContent: `meant ${item.label}` });
  const read = Object.assign(document.createElement("p"), {
    className: "read",
    textContent: `read ${item.answer} (${percent(item.probability)})`,
  });
  const pick = Object.assign(document.createElement("input"), { type: "checkbox", checked: selected.has(item.id) });
  pick.setAttribute("aria-label", `Select drawing ${item.id}, meant ${item.label}`);
  pick.addEventListener("change", () => {
    if (pick.checked) selected.add(item.id);
    else selected.delete(item.id);
    li.classList.toggle("picked", pick.checked);
    showSelection();
  });
  const picker = Object.assign(document.createElement("label"), { className: "pick" });
  picker.append(pick, " select");
  const remove = Object.assign(document.createElement("button"), { type: "button", className: "quiet", textContent: "Delete" });
  remove.setAttribute("aria-label", `Delete drawing ${item.id}, meant ${item.label}`);
  remove.addEventListener("click", async () => {
    remove.disabled = true;
    try {
      await drawings.remove(state.token, item.id);
      li.remove();
      selected.delete(item.id);
      showSelection();
      $("#gallery-status").textContent = `Drawing ${item.id} deleted.`;
      await refreshSummary();
    } catch (e) {
      remove.disabled = false;
      failed(e, $("#gallery-status"));
    }
  });
  li.append(pictureOf(item.pixels, `a drawing of a ${item.label}`), meant, read, picker, remove);
  return li;
}

async function showDrawings(more = false) {
  if (!more) { $("#gallery").replaceChildren(); state.next = null; }
  try {
    const filters = { digit: state.digit, wrong: state.wrong, classCode: state.classCode };
    const page = await drawings.list(state.token, { ...filters, cursor: more ? state.next : null });
    $("#gallery").append(...page.items.map(card));
    state.next = page.next;
    $("#more").hidden = !page.next;
    const shown = $("#gallery").children.length;
    $("#gallery-status").textContent = shown ? `${shown} shown, newest first.` : "None here yet.";
  } catch (e) {
    failed(e, $("#gallery-status"));
  }
}

function showSelection() {
  $("#delete-selected").disabled = !selected.size;
  $("#delete-selected").textContent = `Delete selected (${selected.size})`;
}

// Deleting many: a dry run first says how many, the teacher confirms, then exactly those go
// (for "the last n minutes", only up to the newest id counted: later saves stay).
async function askToDelete(what) {
  $("#confirm-delete").hidden = true;
  $("#gallery-status").textContent = "";
  try {
    const preview = await drawings.removeMany(state.token, { ...what, dryRun: true });
    if (!preview.matched) {
      $("#gallery-status").textContent = "No drawings match: nothing to delete.";
      return;
    }
    state.pending = what.ids ? { ids: what.ids } : { minutes: what.minutes, through: preview.through };
    const plural = preview.matched === 1 ? "drawing" : "drawings";
    $("#confirm-text").textContent = what.ids
      ? `Delete the ${preview.matched} selected ${plural}? This cannot be undone.`
      : `Delete the ${preview.matched} ${plural} saved in the last ${what.minutes} minutes? This cannot be undone.`;
    $("#confirm-delete").hidden = false;
    $("#confirm-no").focus();
  } catch (e) {
    failed(e, $("#gallery-status"));
  }
}

async function confirmDelete() {
  const what = state.pending;
  state.pending = null;
  $("#confirm-delete").hidden = true;
  if (!what) return;
  try {
    const result = await drawings.removeMany(state.token, what);
    selected.clear();
    showSelection();
    await refreshSummary();
    await showDrawings();
    $("#gallery-status").textContent = `${result.deleted} ${result.deleted === 1 ? "drawing" : "drawings"} deleted.`;
  } catch (e) {
    failed(e, $("#gallery-status"));
  }
}

function keep() {
  state.pending = null;
  $("#confirm-delete").hidden = true;
  $("#gallery-status").textContent = "Nothing deleted.";
}

async function exportAs(format) {
  $("#export-status").textContent = "Preparing the file…";
  try {
    download(await drawings.exported(state.token, format, state.classCode));
    $("#export-status").textContent = "Downloaded.";
  } catch (e) {
    failed(e, $("#export-status"));
  }
}

function showScores(answer) {
  $("#scores").hidden = false;
  $("#held-out").textContent = answer.held_out;
  $("#before-class").textContent = percent(answer.before.class);
  $("#after-class").textContent = percent(answer.after.class);
  $("#before-mnist").textContent = percent(answer.before.mnist);
  $("#after-mnist").textContent = percent(answer.after.mnist);
}

async function fineTune() {
  const rounds = Math.max(1, Math.min(60, Number($("#rounds").value) || 1));
  state.stop = false;
  $("#tune").disabled = true;
  $("#stop").disabled = false;
  $("#tune-progress").max = rounds;
  $("#tune-progress").value = 0;
  let answer = null;
  try {
    const steps = await stepsPerRound();
    for (let round = 0; round < rounds && !state.stop; round++) {
      const request = answer ? { resume: answer.resume, steps } : { seed: 0, steps };
      if (state.classCode) request.class = state.classCode;
      answer = await patiently(() => drawings.tune(state.token, request));
      $("#tune-progress").value = round + 1;
      $("#tune-status").textContent = `Round ${round + 1} of ${rounds}: the copy practised on your ${answer.drawings} drawings and MNIST's.`;
      showScores(answer);
    }
    state.tuned = answer;
    $("#copy-actions").hidden = !answer;
    if (answer) document.dispatchEvent(new CustomEvent("teacher:tuned", { detail: answer }));
  } catch (e) {
    if (e.status === 429 || e.status === 503) $("#tune-status").textContent = "The server stayed busy; press Fine-tune to try again.";
    else failed(e, $("#tune-status"));
  } finally {
    $("#tune").disabled = false;
    $("#stop").disabled = true;
  }
}

// A busy server (429, 503) says when to come back (Retry-After): wait that long, saying so, and try again.
async function patiently(request) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (e) {
      if ((e.status !== 429 && e.status !== 503) || state.stop || attempt >= MAX_RETRIES) throw e;
      const seconds = Math.min(30, e.retryAfter || 1);
      $("#tune-status").textContent = `The server is busy; trying again in ${seconds} s (attempt ${attempt + 1})…`;
      await sleep(seconds * 1000);
    }
  }
}

function useOnPage() {
  const t = state.tuned;
  localStorage.setItem(CLASS_COPY_KEY, JSON.stringify({
    params: t.params, steps: t.step, drawings: t.drawings, saved: new Date().toISOString(),
  }));
  $("#copy-status").textContent = `The page now offers "the class's copy, tuned on ${t.drawings} drawings".`;
}

async function downloadWeights() {
  try {
    download(await drawings.weightsFile(state.token, state.tuned.params, state.tuned.step, state.tuned.drawings));
    $("#copy-status").textContent = "Downloaded: unzip it and start the service with CNN_WEIGHTS=class-copy.npz.";
  } catch (e) {
    failed(e, $("#copy-status"));
  }
}

async function downloadOnnx() {
  const file = await drawings.onnxFile(state.tuned.params);
  if (file) download(file);
  else $("#copy-status").textContent = "This service does not export ONNX.";
}

$("#token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("#token").value.trim();
  $("#token").value = "";
  if (token) open(token);
});
$("#sign-out").addEventListener("click", () => signedOut("Signed out."));
$("#wrong").addEventListener("change", () => { state.wrong = $("#wrong").checked; showDrawings(); });
$("#more").addEventListener("click", () => showDrawings(true));
$("#delete-selected").addEventListener("click", () => askToDelete({ ids: [...selected] }));
$("#delete-recent").addEventListener("click", () => {
  const minutes = Math.max(1, Math.min(10080, Math.round(Number($("#minutes").value) || 10)));
  askToDelete({ minutes });
});
$("#confirm-yes").addEventListener("click", confirmDelete);
$("#confirm-no").addEventListener("click", keep);
$("#export-npz").addEventListener("click", () => exportAs("npz"));
$("#export-idx").addEventListener("click", () => exportAs("idx"));
$("#tune").addEventListener("click", fineTune);
$("#stop").addEventListener("click", () => { state.stop = true; });
$("#use-copy").addEventListener("click", useOnPage);
$("#download-weights").addEventListener("click", downloadWeights);
$("#download-onnx").addEventListener("click", downloadOnnx);
drawings.exportsOnnx().then((yes) => { $("#download-onnx").hidden = !yes; });

// The class chosen on the board (class-board.js): the list, the counts, the export and the fine-tune follow
// it; its drawings arrive live, shown at once where the filters let them, the filters kept.
document.addEventListener("class:chosen", (e) => {
  state.classCode = e.detail.code;
  if (!state.token) return;
  $("#drawings-title").textContent = state.classCode ? `The drawings of class ${state.classCode}` : "The drawings";
  refreshSummary().catch((err) => failed(err, $("#gallery-status")));
  showDrawings();
});
document.addEventListener("class:drawing", (e) => {
  const item = e.detail;
  const shown = (state.digit === null || item.label === state.digit) && (!state.wrong || item.answer !== item.label);
  if (shown && !$("#gallery").querySelector(`[data-id="${item.id}"]`)) {
    $("#gallery").prepend(card(item));
    $("#gallery-status").textContent = `${$("#gallery").children.length} shown, newest first.`;
  }
  clearTimeout(state.recount);
  state.recount = setTimeout(() => refreshSummary().catch(() => {}), 300);  // a burst of saves: one recount
});
document.addEventListener("class:deletion", (e) => $("#gallery").querySelector(`[data-id="${e.detail.id}"]`)?.remove());
document.addEventListener("teacher:unauthorized", () => signedOut("That token is not the teacher's."));

const kept = sessionStorage.getItem(TEACHER_TOKEN_KEY);
if (kept) open(kept);
