// The teacher's lessons: open a class, show its code and QR code large, pause or close saving, delete it
// (asking first, offering its drawings), and its live board: the newest drawings large, the counts and
// the confusion matrix, updated by the class's events as phones save; a cell clicked shows its drawings;
// a presentation mode for the classroom's screen. "Give it to the class" publishes the tuned copy.
//
// teacher.js signs in and out ("teacher:open", "teacher:out" on document) and tells of a tuned copy
// ("teacher:tuned"); this module tells it which class is chosen ("class:chosen") and of each live
// drawing or deletion ("class:drawing", "class:deletion"), so its list follows without losing its filters.
import * as classes from "./classes-api.js";
import { $ } from "./dom.js";
import { article } from "./format.js";
import * as drawings from "./drawings-api.js";
import { download } from "./files.js";
import { renderMatrix } from "./matrix.js";
import { pictureOf } from "./render.js";

const NEWEST = 24;  // drawings on the board at once
const plural = (n, one, many = `${one}s`) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
const board = { token: null, code: null, stop: null, matrix: null, through: 0, newest: [], tuned: null, rows: [], recount: null };

function tell(sentence) { $("#lessons-status").textContent = sentence; }
function say(name, detail) { document.dispatchEvent(new CustomEvent(name, { detail })); }

function fail(e) {
  if (e.status === 401) say("teacher:unauthorized", {});
  tell(e.message.endsWith(".") ? e.message : `${e.message}.`);
}

function tile(item) {
  const li = document.createElement("li");
  li.dataset.id = item.id;
  if (item.answer !== item.label) li.className = "wrong";
  const words = Object.assign(document.createElement("p"), {
    textContent: item.answer === item.label ? `${item.label}, read right` : `meant ${item.label}, read ${item.answer}`,
  });
  li.append(pictureOf(item.pixels, `a drawing meant as ${article(item.label)} ${item.label}, read as ${item.answer}`), words);
  return li;
}

// -- the list of classes ------------------------------------------------------------------------------
async function refreshClasses() {
  const { classes: rows } = await classes.listClasses(board.token);
  board.rows = rows;
  const body = $("#classes").tBodies[0];
  body.replaceChildren();
  for (const row of rows) {
    const tr = body.insertRow();
    tr.dataset.code = row.code;
    tr.append(Object.assign(document.createElement("th"), { scope: "row", className: "code", textContent: row.code }));
    for (const text of [row.name, row.state, plural(row.drawings, "drawing")]) tr.insertCell().textContent = text;
    const actions = tr.insertCell();
    actions.className = "row";
    actions.append(
      action(row.code === board.code ? "On the board" : "Show the board", () => show(row.code), row.code === board.code),
      action(row.state === "open" ? "Pause saving" : "Open saving", () => change(row.code, { state: row.state === "open" ? "paused" : "open" })),
      action("Close", () => change(row.code, { state: "closed" }), row.state === "closed"),
      action("Delete…", () => askToDelete(row, tr)),
    );
  }
  $("#classes").hidden = rows.length === 0;
  return rows;
}

function action(text, run, disabled = false) {
  const b = Object.assign(document.createElement("button"), { type: "button", className: "quiet", textContent: text, disabled });
  b.addEventListener("click", run);
  return b;
}

async function change(code, what) {
  try {
    const after = await classes.changeClass(board.token, code, what);
    tell(after.state === "open" ? `${after.name}: saving is open.` : `${after.name}: saving is ${after.state}.`);
    await refreshClasses();
    if (code === board.code) showState(after);
  } catch (e) { fail(e); }
}

// Deleting asks first, says what goes, and offers the drawings as a file before they go.
function askToDelete(row, tr) {
  const ask = $("#delete-ask");
  ask.hidden = false;
  $("#delete-question").textContent = `Delete ${row.name} (${row.code}) and its ${plural(row.drawings, "drawing")}? This cannot be undone.`;
  $("#delete-export").onclick = async () => {
    try {
      const file = await drawings.exported(board.token, "npz", row.code);
      download({ blob: file.blob, name: `class-${row.code}.npz` });
    } catch (e) { fail(e); }
  };
  $("#delete-confirm").onclick = async () => {
    ask.hidden = true;
    try {
      await classes.deleteClass(board.token, row.code);
      tell(`${row.name} and its drawings are deleted.`);
      if (board.code === row.code) hideBoard();
      await refreshClasses();
    } catch (e) { fail(e); }
  };
  $("#delete-keep").onclick = () => { ask.hidden = true; tr.querySelector("button")?.focus(); };
  $("#delete-keep").focus();
}

// -- the board -------------------------------------------------------------------------------------------
function hideBoard() {
  board.stop?.();
  const shown = board.code !== null;
  board.code = null;
  $("#board").hidden = true;
  if (shown && board.token) say("class:chosen", { code: null });
}

function showState(row) {
  $("#board-state").textContent = row.state === "open" ? "Saving is open." : `Saving is ${row.state}.`;
  $("#board-pause").textContent = row.state === "open" ? "Pause saving" : "Open saving";
  $("#board-pause").onclick = () => change(row.code, { state: row.state === "open" ? "paused" : "open" });
}

async function show(code) {
  board.stop?.();
  const row = board.rows.find((r) => r.code === code);
  if (!row) return;
  board.code = code;
  $("#board").hidden = false;
  $("#board-title").textContent = `${row.name}: the live board`;
  $("#join-code").textContent = row.code;
  $("#join-url").textContent = row.join_url;
  $("#qr").src = classes.qrAddress(row.code);
  $("#qr").alt = `A QR code of ${row.join_url}`;
  showState(row);
  showNetwork(row.network);
  $("#cell").hidden = true;
  say("class:chosen", { code });
  try {
    const page = await drawings.list(board.token, { classCode: code, limit: NEWEST });
    const summary = await drawings.summary(board.token, code);
    board.matrix = summary.confusion;
    board.through = summary.newest_id;
    board.newest = page.items;
  } catch (e) { fail(e); return; }
  renderBoard();
  await refreshClasses();
  // From the newest drawing shown: one saved meanwhile is sent, not lost (the counts are fetched again after a burst).
  board.stop = classes.boardEvents(board.token, code, onEvent, `${board.newest[0]?.id ?? 0}-0`);
}

// After a burst of events, the counts from the server once: the table's, and the board's matrix (exact even
// where a drawing was saved while the board was opening).
function recount() {
  clearTimeout(board.recount);
  board.recount = setTimeout(async () => {
    const code = board.code;
    try {
      await refreshClasses();
      const summary = await drawings.summary(board.token, code);
      if (code === board.code) { board.matrix = summary.confusion; board.through = summary.newest_id; renderBoard(); }
    } catch { /* the next event tries again */ }
  }, 500);
}

function onEvent(kind, data) {
  if (kind === "drawing") {
    if (board.newest.some((d) => d.id === data.id)) return;  // already there (saved just before the board opened)
    board.newest = [data, ...board.newest].slice(0, NEWEST);
    // counted already if the last summary read it (its event may arrive after the summary)
    if (data.id > board.through) board.matrix[data.label][data.answer] += 1;
    renderBoard();
    say("class:drawing", data);
    recount();
  } else if (kind === "deletion") {
    const gone = board.newest.find((d) => d.id === data.id);
    if (gone) board.matrix[gone.label][gone.answer] -= 1;
    board.newest = board.newest.filter((d) => d.id !== data.id);
    renderBoard();
    say("class:deletion", data);
    recount();
  } else if (kind === "reset") {  // more was missed than a reconnection replays: the board is read again
    show(board.code);
    return;
  } else if (kind === "state" && data.state === "deleted") {
    hideBoard();
  } else if (kind === "state" || kind === "hello") {
    showState({ ...data, code: board.code });
    if (kind === "hello") showNetwork(data.network);
  } else if (kind === "network") {
    showNetwork(data.sha256 ? data : null);
  }
  $("#board-live").textContent = kind === "offline" ? "Reconnecting to the class…" : "Live: new drawings appear as they are saved.";
}

function showNetwork(network) {
  $("#board-network").textContent = network
    ? `The phones use the class's copy, tuned on ${plural(network.drawings, "drawing")}.`
    : "The phones use the shared network.";
  $("#take-back").hidden = !network;
}

function renderBoard() {
  const m = board.matrix;
  const total = m.flat().reduce((a, b) => a + b, 0);
  const right = m.reduce((a, row, i) => a + row[i], 0);
  $("#board-counts").textContent = total
    ? `${plural(total, "drawing")}; the network read ${right.toLocaleString("en")} of ${total.toLocaleString("en")} as meant.`
    : "No drawings yet: the phones can join with the code or the QR code.";
  $("#newest").replaceChildren(...board.newest.map(tile));
  renderMatrix($("#board-confusion"), m, {
    caption: "Rows: the digit meant. Columns: the network's answer. Choose a cell to see its drawings.",
    onCell: showCell,
  });
}

// A confusion cell's drawings: those meant as i (a page of the newest 200), the network's answer j.
async function showCell(i, j) {
  try {
    const page = await drawings.list(board.token, { classCode: board.code, digit: i, limit: 200 });
    const items = page.items.filter((d) => d.answer === j);
    $("#cell").hidden = false;
    $("#cell-title").textContent = `Meant as ${article(i)} ${i}, read as ${article(j)} ${j}: ${plural(items.length, "drawing")}`;
    $("#cell-drawings").replaceChildren(...items.map(tile));
  } catch (e) { fail(e); }
}

function present(on) {
  document.body.dataset.present = on ? "true" : "false";
  $("#present").textContent = on ? "Leave the presentation" : "Present to the class";
  $("#present").setAttribute("aria-pressed", String(on));
}

async function giveToClass() {
  if (!board.code || !board.tuned) return;
  try {
    const { params, drawings: n, calibration } = board.tuned;
    await classes.publishNetwork(board.token, board.code, params, n, calibration);
    $("#copy-status").textContent = `Given to the class: every phone in ${board.code} now answers with the class's copy.`;
    showNetwork({ drawings: board.tuned.drawings });
  } catch (e) { $("#copy-status").textContent = `${e.message}.`; }
}

async function takeBack() {
  try {
    await classes.takeBackNetwork(board.token, board.code);
    showNetwork(null);
  } catch (e) { fail(e); }
}

function giveButton() { $("#give-class").hidden = !(board.tuned && board.code); }

$("#new-class").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("#class-name").value.trim();
  if (!name) return;
  try {
    const made = await classes.openClass(board.token, name);
    $("#class-name").value = "";
    tell(`${made.name} is open: phones join with the code ${made.code}.`);
    await refreshClasses();
    await show(made.code);
  } catch (e) { fail(e); }
});
$("#present").addEventListener("click", () => present(document.body.dataset.present !== "true"));
document.addEventListener("keydown", (e) => { if (e.key === "Escape" && document.body.dataset.present === "true") present(false); });
$("#give-class").addEventListener("click", giveToClass);
$("#take-back").addEventListener("click", takeBack);
$("#board-close").addEventListener("click", hideBoard);
document.addEventListener("teacher:open", async (e) => {
  board.token = e.detail.token;
  try { await refreshClasses(); } catch (err) { fail(err); }
});
document.addEventListener("teacher:out", () => { hideBoard(); board.token = null; });
document.addEventListener("teacher:tuned", (e) => { board.tuned = e.detail; giveButton(); });
document.addEventListener("class:chosen", giveButton);
