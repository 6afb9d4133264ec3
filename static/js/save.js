// Saving a drawing for the class (POST /drawings): a self-contained module for the main page.
//
//   import { saveDrawing, hookSaveButton } from "./save.js";
//   hookSaveButton(document.querySelector("#save"), () => ({ grid: currentGrid(), label: chosenDigit() }),
//                  (message) => { status.textContent = message; });
//
// saveDrawing(grid, label) -> { id, label, answer, probability } once the drawing is stored, or null
// where the service does not collect drawings (no teacher: 404). It throws with the server's
// sentence otherwise (429 too many saves, 409 the collection is full, 422 a bad drawing).
// hookSaveButton wires a <button>: hidden once the service says it does not collect, one save per click,
// the same Idempotency-Key for retries of the same click, a sentence for every outcome.

import { Refused, save } from "./drawings-api.js";

function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

export async function saveDrawing(grid, label, key = newKey()) {
  try {
    return await save(grid, label, key);
  } catch (e) {
    if (e instanceof Refused && e.status === 404) return null;
    throw e;
  }
}

// button: a <button>; current: () => ({ grid, label }) or null when there is nothing to save;
// tell: (sentence) => void, for a live region.
export function hookSaveButton(button, current, tell = () => {}) {
  let key = null;
  button.addEventListener("click", async () => {
    const drawing = current();
    if (!drawing) { tell("Draw a digit and choose which one you meant first."); return; }
    button.disabled = true;
    key ??= newKey();
    try {
      const saved = await saveDrawing(drawing.grid, drawing.label, key);
      if (saved === null) { button.hidden = true; tell("This service does not collect drawings."); return; }
      key = null;
      tell(`Saved for the class as a ${saved.label} (the network read ${saved.answer}).`);
    } catch (e) {
      tell(`Not saved: ${e.message}.`);
    } finally {
      button.disabled = false;
    }
  });
}
