// "The equation with your numbers": choose a cell of C1 or P1, a probability bar, or a cell of the
// gradients dLP2 or dLk1, and the article's equation for that cell is written out with the
// numbers the network computed for this drawing (POST /equation reads them from its own arrays).
import * as api from "./api.js";

const $ = (selector) => document.querySelector(selector);
const n = (x, digits = 4) => (Math.abs(x) < 1e-4 && x !== 0 ? x.toExponential(2) : x.toFixed(digits));

function table(rows, { mark = null } = {}) {
  return `<table class="numbers">${rows.map((row, y) => `<tr>${row.map((v, x) =>
    `<td${mark && mark[0] === y && mark[1] === x ? ' class="winner"' : ""}>${n(v, 3)}</td>`).join("")}</tr>`).join("")}</table>`;
}

const RENDER = {
  S1: (e) => `${table(e.window)} <span class="op">⊙</span> ${table(e.kernel)} <span class="op">=</span> ${table(e.products)}
    <p>Σ = ${n(e.sum_of_products)}, + b1 = ${n(e.bias)} → <b>S1 = ${n(e.value)}</b>; C1 = max(0, S1) = ${n(e.after_relu)}</p>`,
  P1: (e) => `${table(e.window, { mark: [e.winner[0] % 2, e.winner[1] % 2] })}
    <p>The winner is C1 at (${e.winner.join(", ")}): <b>P1 = ${n(e.value)}</b>; backpropagation will send
    this cell's gradient there alone (eq. 57).</p>`,
  O: (e) => `<p>S = (${e.scores.map((s) => n(s, 2)).join(", ")})</p>
    <p>exp(S − max S) = (${e.exps.map((s) => n(s, 3)).join(", ")}), Σ = ${n(e.sum_of_exps)}</p>
    <p><b>O = ${n(e.value, 6)}</b></p>`,
  L: (e) => `<p>O = ${n(e.probability, 6)} → <b>L = ${n(e.value, 6)}</b></p>`,
  dLS: (e) => `<p>O = ${n(e.probability, 6)}, y = ${e.target} → <b>∂L/∂S = ${n(e.value, 6)}</b></p>`,
  dLC2: (e) => `<p>C2's window ${table(e.window, { mark: [e.winner[0] % 2, e.winner[1] % 2] })} gets
    ∂L/∂P2 = ${n(e.upstream, 6)} at its winner: ${table(e.routed, { mark: [e.winner[0] % 2, e.winner[1] % 2] })}</p>`,
  dLk1: (e) => `<p>${e.terms} terms, ${e.nonzero_terms} of them not 0; the largest:</p>
    <p>${e.largest.map((t) => `${n(t.dLS1, 5)} × ${n(t.I, 3)} <small>(i=${t.i}, j=${t.j})</small>`).join(" + ")} + …</p>
    <p>Σ = <b>${n(e.sum, 6)}</b> = ∂L/∂k1 = ${n(e.value, 6)}</p>`,
};

export async function showEquation(kind, index, grid, label, params) {
  const out = $("#equation");
  delete out.dataset.kind;
  if (!grid) { out.textContent = "Draw a digit first."; return; }
  out.textContent = "Working it out…";
  try {
    const kinds = kind === "O" ? ["O", "L", "dLS"] : [kind];  // a bar: the softmax, the loss, its gradient
    const answers = await Promise.all(kinds.map((k) => api.equation(grid, label, k, k === "L" ? [] : index, params)));
    out.innerHTML = answers.map((e) => `<div class="eq" tabindex="0" role="group" aria-label="equation ${e.equation}, scrolls sideways if wide"><h3>eq. (${e.equation}) <code>${e.text}</code></h3>${RENDER[e.kind](e)}</div>`).join("");
    out.dataset.kind = kind;
    out.dataset.value = String(answers[0].value);
  } catch (e) {
    out.textContent = e.message;
  }
}
