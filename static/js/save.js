// Saving a drawing for the class (POST /drawings): a self-contained module for the main page.
//
//   import { saveDrawing, hookSaveButton } from "./save.js";
//   const refresh = hookSaveButton(document.querySelector("#save"),
//                                  () => ({ grid: currentGrid(), label: chosenDigit() }),
//                                  (sentence, kind) => { status.textContent = sentence; });
//
// saveDrawing(grid, label) -> { id, label, answer, probability } once the drawing is stored, or null
// where the service does not collect drawings (no teacher: 404). It throws with the server's
// sentence otherwise (429 too many saves, 409 the collection is full, 422 a bad drawing).
// hookSaveButton wires a <button>: one save per click, each click its own Idempotency-Key, kept only
// while the same drawing and digit are tried again (a save whose answer was lost is then stored once),
// a sentence for every outcome. A drawing saved with a digit is not offered again with that digit, and
// after a 429 the button waits out Retry-After. It returns refresh(), for the page to call whenever
// the drawing or the digit changes.

import { Refused, save } from "./drawings-api.js";

function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

export async function saveDrawing(grid, label, key = newKey(), classCode = null) {
  try {
    return await save(grid, label, key, classCode);
  } catch (e) {
    if (e instanceof Refused && e.status === 404) return null;
    throw e;
  }
}

// button: a <button>; current: () => ({ grid, label }) or null when there is nothing to save (the same
// grid object while the drawing is the same); tell: (sentence, kind) => void, for a live region, kind
// "saved", "refused" or "ready"; reader: () => the name of the network that reads saves; classCode: the
// class saved into (its page, /c/{code}), or null.
export function hookSaveButton(button, current, tell = () => {}, reader = () => "the network", classCode = null) {
  let attempt = null;  // { grid, label, key } of a click not stored yet
  let stored = null;   // { grid, label } of the last drawing stored
  let busy = false, off = false, waitUntil = 0;
  const same = (a, b) => Boolean(a && b && a.grid === b.grid && a.label === b.label);
  const refresh = () => {
    const drawing = current();
    button.disabled = off || busy || !drawing || same(drawing, stored) || Date.now() < waitUntil;
  };
  button.addEventListener("click", async () => {
    const drawing = current();
    if (!drawing) { tell("Draw a digit and choose which one you meant first.", "refused"); return; }
    if (!same(drawing, attempt)) attempt = { ...drawing, key: newKey() };
    busy = true;
    refresh();
    try {
      const saved = await saveDrawing(drawing.grid, drawing.label, attempt.key, classCode);
      if (saved === null) { off = true; tell("Not saved: this service does not collect drawings.", "refused"); return; }
      attempt = null;
      stored = drawing;
      tell(`Saved as a ${saved.label} — ${reader()} read ${saved.answer}.`, "saved");
    } catch (e) {
      if (e.status === 429 && e.retryAfter) {
        waitUntil = Date.now() + 1000 * e.retryAfter;
        setTimeout(() => { refresh(); if (!button.disabled) tell("You can save again.", "ready"); }, 1000 * e.retryAfter + 50);
      }
      tell(`Not saved: ${e.message.replace(/\.$/, "")}.`, "refused");
    } finally {
      busy = false;
      refresh();
    }
  });
  refresh();
  return refresh;
}
