// "The equation with your numbers": choose a cell of a map, a probability bar, or a cell of a
// gradient map, and the article's equation for that cell is written out with the numbers the
// network computed for this drawing (POST /equation reads them from its own arrays).
import * as api from "./api.js";
import { $ } from "./dom.js";
import { num } from "./format.js";
import { answerHtml, table } from "./terms.js";


// S1 keeps its picture of the whole window, kernel and products; every kind then gets its terms.
const PICTURE = {
  S1: (e) => `${table(e.window)} <span class="op">⊙</span> ${table(e.kernel)} <span class="op">=</span> ${table(e.products)}
    <p>C1 = max(0, S1) = ${num(e.after_relu)}</p>`,
};

export async function showEquation(kind, index, grid, label, params) {
  const out = $("#equation");
  delete out.dataset.kind;
  if (!grid) { out.textContent = "Draw a digit first."; return; }
  out.textContent = "Working it out…";
  try {
    const kinds = kind === "O" ? ["O", "L", "dLS"] : [kind];  // a bar: the softmax, the loss, its gradient
    const answers = await Promise.all(kinds.map((k) => api.equation(grid, label, k, k === "L" ? [] : index, params)));
    out.innerHTML = answers.map((e) => `<div class="eq" tabindex="0" role="group" aria-label="equation ${e.equation}, scrolls sideways if wide"><h3>eq. (${e.equation}) <var>${e.name}</var></h3>${(PICTURE[e.kind] ?? (() => ""))(e)}${answerHtml(e)}</div>`).join("");
    out.dataset.kind = kind;
    out.dataset.value = String(answers[0].value);
  } catch (e) {
    out.textContent = e.message;
  }
}
