// An answer of POST /equation written out: the equation for the cell, the case that applies, and
// its terms with the drawing's numbers, which add up to the value (a long sum: its largest terms
// and the rest as one number). The page computes nothing here; it only writes what the server said.
import { cellText, num } from "./format.js";

const escape = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function factorHtml({ name, index, value }) {
  if (!index.length && /[ηΣ]/.test(name)) return `<span class="factor">${escape(name)} = ${num(value)}</span>`;
  return `<span class="factor" data-cell="${escape(cellText(name, index))}"><span class="cell-name">${escape(cellText(name, index))}</span> ${num(value)}</span>`;
}

function termHtml(t, i) {
  const sign = t.coefficient < 0 ? "−" : i === 0 ? "" : "+";
  const body = t.factors.map(factorHtml).join(' <span class="op">×</span> ');
  return `<li><span class="sign">${sign}</span> ${body}${t.factors.length > 1 || t.coefficient < 0 ? ` <span class="op">=</span> ${num(t.value)}` : ""}</li>`;
}

// A 2-D table of numbers; `mark` [row, col] outlines one cell (a max-pool's winner).
export function table(rows, mark = null, label = "") {
  return `<table class="numbers"${label ? ` aria-label="${escape(label)}"` : ""}>${rows.map((row, y) => `<tr>${row.map((v, x) =>
    `<td${mark && mark[0] === y && mark[1] === x ? ' class="winner"' : ""}>${num(v, 3)}</td>`).join("")}</tr>`).join("")}</table>`;
}

// The sum, term by term.
export function termsHtml(e) {
  const items = e.terms.map(termHtml);
  if (e.rest && e.rest.count) {
    items.push(`<li class="rest"><span class="sign">+</span> the other ${e.rest.count} terms` +
      `${e.rest.nonzero < e.rest.count ? ` (${e.rest.nonzero} of them not 0)` : ""} add up to ${num(e.rest.value)}</li>`);
  }
  if (!items.length) items.push('<li class="rest">no term: nothing reaches this cell</li>');
  return `<ol class="terms">${items.join("")}</ol><p class="total">= <b>${num(e.value)}</b> = ${escape(cellText(e.name, e.index))}</p>`;
}

// What a kind adds to its terms: the window and its winner, the mask's case, the loss's probability.
function extrasHtml(e) {
  const parts = [];
  if (e.case) parts.push(`<p class="case">Here: ${escape(e.case)}.</p>`);
  if (e.window && e.winner) {
    const [, r0, c0] = e.window_origin;
    parts.push(`<p>The 2×2 window, its largest value outlined:</p>${table(e.window, [e.winner[1] - r0, e.winner[2] - c0], "the window")}`);
  }
  if (e.kind === "O") parts.push(`<p>Σk exp(S[k] − max S) = ${num(e.sum_of_exps)}</p>`);
  if (e.kind === "L") parts.push(`<p>O[${e.label}] = ${num(e.probability)}, so L = −ln ${num(e.probability)} = ${num(e.value)}</p>`);
  if (e.kind === "update") parts.push(`<p class="update-line">${num(e.old)} <span class="op">→</span> gradient ${num(e.gradient)} <span class="op">→</span> <b>${num(e.new)}</b></p>`);
  return parts.join("");
}

// The whole answer: the equation, what applies here, the terms.
export function answerHtml(e) {
  return `<p class="eq-text"><code>${escape(e.text)}</code></p>${extrasHtml(e)}${termsHtml(e)}`;
}
