// The main page's status line: it floats over the page (it moves nothing). "offline" and "error" stay
// until the next answer; a note ("info") goes away after a while, or as soon as the pen touches the pad,
// so that it never covers the drawing.
import { $ } from "./dom.js";

const NOTE_MS = 8000;
const line = { kind: null, timer: null };  // what it says now, and the note's timer

// kind: "offline", "error", "info", or null to hide it; html: the sentence.
export function setStatus(kind, html) {
  const status = $("#status");
  line.kind = kind;
  status.hidden = !kind;
  status.className = kind ? `status ${kind}` : "status";
  if (kind) status.innerHTML = html;
  clearTimeout(line.timer);
  if (kind === "info") line.timer = setTimeout(() => setStatus(null), NOTE_MS);
}

// An answer arrived: a trouble it told of is over (a note stays its time).
export function answered() {
  if (line.kind !== "info") setStatus(null);
}

// A note gives way to the pen.
export function hideNoteOn(element) {
  element.addEventListener("pointerdown", () => { if (line.kind === "info") setStatus(null); });
}
