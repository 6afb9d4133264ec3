// "Step through the article": a walk over the current drawing, with the network that answers, in the
// article's order, from the architecture to the update. Each step names a quantity, shows one of its
// cells (the largest by default; any other can be picked on its map) computed with the drawing's
// numbers by POST /equation, and highlights the cells that feed it on their own maps, beside the step.
// The kinds, their shapes and equation numbers come from GET /model; the sentences of why are ours.
import * as api from "./api.js";
import { $ } from "./dom.js";
import { FLOAT32_NOISE, cellText, gradientText, num, shapeText } from "./format.js";
import { cellAt, paintMap } from "./render.js";
import { answerHtml, table } from "./terms.js";

const RATES = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3];
const MAX_FEEDERS = 4;  // maps of the cells that feed one, beside the step

// One or two plain sentences for each step: why it is there, in our words.
const WHY = {
  architecture: "The network reads a 28×28 picture in a few stages: two rounds of \"slide small patterns over it, " +
    "keep the strong responses, shrink\", then one layer that turns what is left into ten scores, one per digit. " +
    "This tour follows the article: first forward, from your drawing to the answer, then backward, from the answer " +
    "to every number the network can learn.",
  S1: "Each of six 5×5 kernels slides over the picture; at each place it multiplies the 25 pixels under it by its " +
    "25 weights and adds them up, plus a bias. A large sum means the pattern is there.",
  C1: "The ReLU keeps a positive response and turns a negative one into 0: \"not here\" becomes nothing at all.",
  P1: "Each 2×2 window keeps only its largest number. The map gets four times smaller and keeps the strongest responses.",
  S2: "The second layer's twelve kernels each look at all six P1 maps at once (6×5×5 weights), so they can combine " +
    "simple strokes into parts of digits.",
  C2: "The same ReLU again: only positive responses survive.",
  P2: "Max-pooling again: 12 maps of 4×4 are all the network keeps of your drawing.",
  f: "The 12 maps are laid end to end into one list of 192 numbers, f. The cell (m, x, y) goes to place 16m + 4x + y.",
  S: "Each digit's score is a weighted sum of all 192 numbers of f plus a bias: 192 votes, each with its own weight.",
  O: "Softmax turns the ten scores into probabilities: exponentials, divided by their sum, so that they add up to 1.",
  L: "The loss is small when the network gives the right digit a high probability and grows without bound as that " +
    "probability goes to 0. Which digit is right? You say.",
  dLS: "Going backward starts here: how much would the loss change if one score moved a little? For the right digit " +
    "it is its probability minus 1 (raise that score to lower the loss), for every other digit its probability.",
  dLb: "A bias is added straight to its score, so it gets exactly the score's gradient.",
  dLw: "The weight w[i, j] multiplies f[j] on its way into score i, so its gradient is score i's gradient times f[j]. " +
    "Where f[j] is 0 the weight had no effect and gets no blame.",
  dLf: "Each number of f votes in all ten scores, so its gradient collects ten contributions: each score's gradient " +
    "times the weight that connects them.",
  dLP2: "This is only the list f put back into P2's shape: the gradient of place 16m + 4x + y is P2[m, x, y]'s.",
  dLC2: "A max-pool passed on only its window's largest value, so only that winner gets the gradient; the three " +
    "others did not affect the answer and get 0.",
  dLS2: "Where the ReLU let S2 through, the gradient passes unchanged; where it cut S2 to 0, a small change of S2 " +
    "changes nothing, so the gradient is 0.",
  dLb2: "The bias b2[m] is added to every cell of S2[m], so its gradient is the sum of all 64 gradients of that map.",
  dLk2: "A weight of k2 was used at every position the kernel visited, so its gradient adds up, over those 64 " +
    "positions, the gradient of S2 there times the P1 number the weight multiplied.",
  dLP1: "One P1 number fed every S2 cell whose 5×5 window covered it, through one weight of k2 each. Its gradient " +
    "adds up those gradients of S2, each times the weight that carried it.",
  dLC1: "The first max-pool routes back the same way: only each window's winner gets the gradient.",
  dLS1: "The first ReLU's mask: the gradient goes through where S1 was positive and stops where it was cut.",
  dLb1: "The bias b1[n] is in every cell of S1[n], so its gradient is the sum of all 576 gradients of that map.",
  dLk1: "Each weight of k1 multiplied one pixel at each of 576 positions; its gradient adds up the gradient of S1 " +
    "there times that pixel. Where the picture is blank those terms are 0.",
  update: "Learning: every parameter takes a small step against its gradient, k ← k − η × gradient. Too small a " +
    "step learns slowly; too large a step jumps past the valley and the loss rises.",
};

// Where each name's numbers are in the /explain answer (forward=true).
function arrays(x) {
  const S1 = x.forward.S1, S2 = x.forward.S2;
  const mask = (a) => a.map((m) => m.map((row) => row.map((v) => (v > 0 ? 1 : 0))));
  return { I: x.input, ...x.forward, ...x.gradients, ...x.parameters, "[S1 > 0]": mask(S1), "[S2 > 0]": mask(S2) };
}

const chunk = (list, size) => Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size));
const largestIndex = (a) => {  // the index of the largest |value| of a nested array
  let best = -1, at = [];
  const walk = (v, index) => {
    if (Array.isArray(v)) v.forEach((w, i) => walk(w, [...index, i]));
    else if (Math.abs(v) > best) { best = Math.abs(v); at = index; }
  };
  walk(a, []);
  return at;
};

// The 2-D picture of one cell's neighbourhood: for a map, its channel; for a list, rows of 16.
function sliceOf(a, name, index) {
  const depth = (v) => (Array.isArray(v) ? 1 + depth(v[0]) : 0);
  const d = depth(a);
  if (d === 4) return { values: a[index[0]][index[1]], at: index.slice(2), title: `${name}[${index[0]}, ${index[1]}]`, key: index.slice(0, 2) };
  if (d === 3) return { values: a[index[0]], at: index.slice(1), title: `${name}[${index[0]}]`, key: index.slice(0, 1) };
  if (d === 2 && a[0].length > 28) {  // w, dLw: one row of 192, as 12 rows of 16
    return { values: chunk(a[index[0]], 16), at: [Math.floor(index[1] / 16), index[1] % 16], title: `${name}[${index[0]}]`, key: index.slice(0, 1) };
  }
  if (d === 2) return { values: a, at: index, title: name, key: [] };
  if (d === 1) {
    return a.length > 16 ? { values: chunk(a, 16), at: [Math.floor(index[0] / 16), index[0] % 16], title: name, key: [] }
      : { values: [a], at: [0, index[0]], title: name, key: [] };
  }
  return null;
}

export class Tour {
  // info: GET /model; current(): { grid, label, params, whose } of the page as it is now
  constructor(info, current) {
    this.kinds = info?.equations ?? [];
    this.paramShapes = info?.param_shapes ?? {};
    this.parameters = Object.keys(this.paramShapes);  // k1 b1 k2 b2 w b
    this.input = info?.layers?.[0] ?? { name: "I", shape: [] };  // the drawing, as the network reads it
    this.steps = [{ name: "architecture", equation: "", shape: [], what: "the network, layer by layer" }, ...this.kinds];
    this.current = current;
    this.panel = $("#tour");
    this.body = $("#tour-body");
    this.n = 0;
    this.cells = {};       // kind -> the cell chosen on its map
    this.label = null;     // the digit the drawing should have been
    this.lr = 0.01;
    this.parameter = this.parameters[0];
    this.explained = null; // the /explain answer of (grid, label)
    this.request = 0;      // the newest step's number: older answers are dropped
    const jump = $("#tour-jump");
    this.steps.forEach((s, i) => jump.append(new Option(`${i + 1}. ${s.equation ? `(${s.equation}) ` : ""}${s.name}`, String(i))));
    jump.addEventListener("change", () => this.go(Number(jump.value)));
    document.querySelectorAll('[data-tour="start"]').forEach((b) => b.addEventListener("click", () => this.start()));
    $('[data-tour="next"]').addEventListener("click", () => this.go(this.n + 1));
    $('[data-tour="prev"]').addEventListener("click", () => this.go(this.n - 1));
    $('[data-tour="leave"]').addEventListener("click", () => this.leave());
    document.addEventListener("keydown", (e) => { if (!this.panel.hidden) this.key(e); });
    document.body.dataset.tourReady = "true";
  }

  // The tour has the focus when it is inside the panel (or nowhere, after a step replaced the element
  // that had it).
  key(e) {
    if (e.key === "Escape") { e.preventDefault(); this.leave(); return; }
    if (e.target !== document.body && !this.panel.contains(e.target)) return;
    if (e.target.closest("canvas, select, input, textarea")) return;  // these use the arrows themselves
    if (e.key === "ArrowRight") { e.preventDefault(); this.go(this.n + 1); }
    if (e.key === "ArrowLeft") { e.preventDefault(); this.go(this.n - 1); }
  }

  async start() {
    const { grid, label } = this.current();
    this.opener = document.activeElement;
    this.panel.hidden = false;
    document.body.dataset.touring = "true";
    this.label = label;
    this.grid = grid;
    this.explained = null;
    this.cells = {};
    window.cnnTourGrid = grid;
    this.panel.focus();
    this.go(0);
  }

  leave() {
    this.panel.hidden = true;
    delete document.body.dataset.touring;
    this.request++;
    (this.opener instanceof HTMLElement ? this.opener : $('[data-tour="start"]'))?.focus();
  }

  // The answer of /explain for this grid and label (with the forward pass), fetched once per label.
  async explain() {
    const { params } = this.current();
    const label = this.label ?? this.explained?.predicted ?? 0;
    if (this.explained && this.explained.label === label) return this.explained;
    const x = await api.explainEverything(this.grid, label, params);
    const O = x.forward.O;
    x.predicted = O.indexOf(Math.max(...O));
    x.arrays = arrays(x);
    this.explained = x;
    if (this.label === null && label !== x.predicted) return this.explain();  // feedforward: any label will do
    return x;
  }

  needsLabel(step) {
    const i = this.steps.findIndex((s) => s.name === "L");
    return this.label === null && this.steps.indexOf(step) >= i;
  }

  async go(n) {
    if (n < 0 || n >= this.steps.length) return;
    this.n = n;
    const step = this.steps[n], id = ++this.request;
    const el = this.stepElement(step);
    $("#tour-count").textContent = `step ${n + 1} of ${this.steps.length}`;
    $("#tour-jump").value = String(n);
    $('[data-tour="prev"]').disabled = n === 0;
    $('[data-tour="next"]').disabled = n === this.steps.length - 1 || this.needsLabel(step);
    if (!this.grid) {
      el.querySelector(".tour-work").textContent = "Draw a digit first (or pick a sample), then start the tour again.";
      el.dataset.ready = "true";
      el.style.visibility = "";
      return;
    }
    try {
      const x = await this.explain();
      if (id !== this.request) return;
      if (step.name === "architecture") this.showArchitecture(el, x);
      else if (this.needsLabel(step)) this.askLabel(el, x);
      else if (step.name === "update") await this.showUpdate(el, step, x, id);
      else await this.showCell(el, step, x, id);
    } catch (e) {
      if (id === this.request) el.querySelector(".tour-work").textContent = e.message;
    }
    if (id === this.request) { el.dataset.ready = "true"; el.style.visibility = ""; }
  }

  // The step's frame, the same every step: heading, maps, why, the computation.
  stepElement(step) {
    const el = document.createElement("article");
    el.className = "tour-step";
    el.style.visibility = "hidden";  // shown whole once its numbers are in: nothing moves as they arrive
    el.tabIndex = -1;
    Object.assign(el.dataset, {
      tourStep: "", step: String(this.n + 1), steps: String(this.steps.length), equation: step.equation,
      kind: step.name, index: "[]", label: this.label === null ? "" : String(this.label), value: "",
    });
    const heading = step.name === "architecture" ? "The network"
      : `<span class="tour-eq">(${step.equation})</span> <var>${step.name}</var>`;
    const shape = step.name === "architecture" ? ""
      : step.name === "update" ? `${this.parameter}: shape ${shapeText(this.paramShapes[this.parameter] ?? [])}`
        : `shape ${shapeText(step.shape)}`;
    el.innerHTML = `<h3 id="tour-title">${heading} <span class="tour-shape">${shape}</span></h3>
      <p class="tour-what">${step.what}</p>
      <div class="tour-maps" aria-label="the maps of this step"></div>
      <p class="tour-why">${WHY[step.name] ?? ""}</p>
      <div class="tour-work" aria-live="polite">Working it out…</div>`;
    const hadFocus = this.panel.contains(document.activeElement);
    this.body.replaceChildren(el);
    this.body.scrollTop = 0;  // each step starts at its top: its maps
    if (hadFocus && !this.panel.contains(document.activeElement)) this.panel.focus({ preventScroll: true });
    return el;
  }

  showArchitecture(el, x) {
    const shapes = this.kinds.slice(0, this.kinds.findIndex((k) => k.name === "L"));  // the forward pass
    el.querySelector(".tour-work").innerHTML = `<p>Computed by ${this.current().whose}, which reads your drawing as a ` +
      `<b>${x.predicted}</b> (${num(100 * x.forward.O[x.predicted], 4)} %).</p><ol class="tour-arch"><li><var>${this.input.name}</var> ${shapeText(this.input.shape)}, your drawing</li>${
        shapes.map((k) => `<li><span class="tour-eq">(${k.equation})</span> <var>${k.name}</var> ${shapeText(k.shape)}: ${k.what}</li>`).join("")}</ol>`;
    this.addMap(el, "I", [], x.arrays.I, { main: true });
    el.dataset.value = String(x.forward.O[x.predicted]);
  }

  askLabel(el) {
    const work = el.querySelector(".tour-work");
    work.innerHTML = `<p id="tour-ask">Which digit should your drawing have been? The loss, and every gradient after it, ` +
      `is about that digit.</p><div class="tour-digits" role="group" aria-labelledby="tour-ask">${
        Array.from({ length: 10 }, (_, d) => `<button type="button" data-label="${d}">${d}</button>`).join("")}</div>`;
    work.querySelectorAll("[data-label]").forEach((b) => b.addEventListener("click", () => {
      this.label = Number(b.dataset.label);
      this.go(this.n);
    }));
  }

  // The values whose largest |value| is the default cell. A max-pool's gradient is shown where its window
  // has a real winner (a positive value), not at a window of four 0s whose "winner" is only the first.
  telling(name, x) {
    const forward = { dLC2: "C2", dLC1: "C1" }[name];
    if (!forward) return x.arrays[name];
    const masked = x.arrays[name].map((m, c) => m.map((row, i) => row.map((v, j) => (x.arrays[forward][c][i][j] > 0 ? v : 0))));
    return masked.flat(Infinity).some((v) => v !== 0) ? masked : x.arrays[name];
  }

  // One cell of a quantity: the map with the cell, its computation, the maps that feed it.
  async showCell(el, step, x, id) {
    const a = x.arrays[step.name];
    const index = step.name === "L" ? [] : (this.cells[step.name] ??= largestIndex(this.telling(step.name, x)));
    const { params } = this.current();
    const e = await api.equation(this.grid, x.label, step.name, index, params);
    if (id !== this.request) return;
    Object.assign(el.dataset, { index: JSON.stringify(e.index), value: String(e.value), label: String(x.label) });
    if (step.name === "L") this.addMap(el, "O", [x.label], x.arrays.O, { main: true, title: "O" });
    else this.addMap(el, step.name, index, a, { main: true, pick: true });
    this.feeders(el, e, x);
    const noise = step.name.startsWith("dL") && Math.abs(e.value) < FLOAT32_NOISE && e.value !== 0
      ? `<p class="tour-noise">This gradient is ${gradientText(e.value)}: below what float32 arithmetic can tell from 0. ` +
        `The network is already sure of a ${x.label}, so there is almost nothing to learn from it.</p>` : "";
    el.querySelector(".tour-work").innerHTML = `<p class="tour-cell">The cell <b>${cellText(e.name, e.index)}</b>` +
      `${step.name === "L" ? "" : " (its largest by size, unless you pick another on its map)"}, for a ${x.label}:</p>${noise}${answerHtml(e)}`;
  }

  // The maps of the cells a sum reads (up to MAX_FEEDERS), each cell outlined with data-highlight.
  feeders(el, e, x) {
    const groups = new Map();
    const add = (name, index, extra = {}) => {
      const a = x.arrays[name];
      if (!a || !index.length) return;
      const s = sliceOf(a, name, index);
      if (!s) return;
      const key = `${name}|${s.key.join(",")}`;
      if (!groups.has(key)) groups.set(key, { name, index, cells: [] });
      groups.get(key).cells.push({ index, ...extra });
    };
    if (e.window && e.winner) {  // the window of a max-pool, its winner marked
      const name = { P1: "C1", P2: "C2", dLC2: "C2", dLC1: "C1" }[e.kind];
      const [c, r0, s0] = e.window_origin;
      for (const [dr, ds] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
        const index = [c, r0 + dr, s0 + ds];
        add(name, index, { winner: index.every((v, i) => v === e.winner[i]) });
      }
    }
    for (const t of e.terms) for (const f of t.factors) add(f.name, f.index);
    if (e.mask) add(e.kind === "dLS2" ? "[S2 > 0]" : "[S1 > 0]", e.index);
    [...groups.values()].slice(0, MAX_FEEDERS).forEach((g) => this.addMap(el, g.name, g.index, x.arrays[g.name], { cells: g.cells, region: e.region }));
  }

  // One map in the step: `main` is the quantity itself (its cell outlined, pickable); the others feed it.
  addMap(el, name, index, a, { main = false, pick = false, cells = [], region = null, title = null } = {}) {
    const s = sliceOf(a, name, index.length ? index : Array(2).fill(0));
    if (!s) return;
    const figure = document.createElement("figure");
    figure.className = main ? "tour-map main" : "tour-map";
    const box = document.createElement("div");
    box.className = "tour-canvas";
    const canvas = document.createElement("canvas");
    canvas.className = "map";
    const flat = s.values.flat();
    const vmax = Math.max(1e-30, ...flat.map(Math.abs));
    const diverging = flat.some((v) => v < 0) || name.startsWith("dL");
    const quiet = name.startsWith("dL") && vmax < FLOAT32_NOISE;  // rounding noise: painted as 0, not as full colour
    paintMap(canvas, s.values, quiet ? 1 : vmax, { diverging, name: title ?? s.title });
    canvas.setAttribute("role", pick ? "button" : "img");
    canvas.setAttribute("aria-label", pick ? `${s.title}: choose a cell to compute it` : `the map ${s.title}`);
    box.append(canvas);
    const [rows, cols] = [s.values.length, s.values[0].length];
    const mark = (at, cls, attrs) => {
      const m = document.createElement("span");
      m.className = cls;
      Object.assign(m.style, { left: `${(100 * at[1]) / cols}%`, top: `${(100 * at[0]) / rows}%`,
                               width: `${100 / cols}%`, height: `${100 / rows}%` });
      Object.entries(attrs).forEach(([k, v]) => m.setAttribute(k, v));
      box.append(m);
      return m;
    };
    if (main && index.length) mark(s.at, "tour-cell-mark", { "data-cell": cellText(name, index) });
    for (const c of cells) {
      const at = sliceOf(a, name, c.index).at;
      mark(at, c.winner ? "tour-highlight winner" : "tour-highlight", { "data-highlight": cellText(name, c.index), ...(c.winner ? { "data-winner": "true" } : {}) });
    }
    if (region && name === "dLS2") {  // the dLS2 cells whose window covers the P1 cell
      const m = mark([region.u[0], region.v[0]], "tour-region", { "data-region": `u ${region.u.join("–")}, v ${region.v.join("–")}` });
      m.style.width = `${(100 * (region.v[1] - region.v[0] + 1)) / cols}%`;
      m.style.height = `${(100 * (region.u[1] - region.u[0] + 1)) / rows}%`;
    }
    if (pick) {
      canvas.tabIndex = 0;
      const choose = (cell) => { this.cells[name] = [...s.key, ...cell]; this.go(this.n); };
      canvas.addEventListener("click", (ev) => choose(cellAt(canvas, ev)));
      canvas.addEventListener("keydown", (ev) => {
        const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
        if (!moves[ev.key]) return;
        ev.preventDefault();
        const [r, c] = s.at;
        choose([Math.max(0, Math.min(rows - 1, r + moves[ev.key][0])), Math.max(0, Math.min(cols - 1, c + moves[ev.key][1]))]);
        requestAnimationFrame(() => this.body.querySelector(".tour-map.main canvas")?.focus());
      });
    }
    const caption = document.createElement("figcaption");
    caption.innerHTML = `<var>${title ?? s.title}</var> ${rows > 1 ? `${rows}×${cols}` : `${cols}`}${quiet ? " · ≈ 0" : ""}`;
    figure.append(box, caption);
    el.querySelector(".tour-maps").append(figure);
  }

  // (66): one step of gradient descent on a copy, for every parameter at its largest gradient.
  async showUpdate(el, step, x, id) {
    const work = el.querySelector(".tour-work");
    const { params } = this.current();
    const indices = Object.fromEntries(this.parameters.map((p) => [p, largestIndex(x.arrays[`dL${p}`])]));
    const answers = await Promise.all(this.parameters.map((p) =>
      api.equation(this.grid, x.label, "update", indices[p], params, { parameter: p, lr: this.lr })));
    if (id !== this.request) return;
    const e = answers[this.parameters.indexOf(this.parameter)];
    Object.assign(el.dataset, { index: JSON.stringify(e.index), value: String(e.value), label: String(x.label),
                                parameter: this.parameter, lr: String(this.lr) });
    this.addMap(el, `dL${this.parameter}`, e.index, x.arrays[`dL${this.parameter}`], { main: true });
    const rows = answers.map((a) => `<tr${a.parameter === this.parameter ? ' class="chosen"' : ""}><th scope="row">${cellText(a.parameter, a.index)}</th>` +
      `<td>${num(a.old)}</td><td>${gradientText(a.gradient)}</td><td>${num(a.new)}</td></tr>`).join("");
    const before = e.probabilities_before, after = e.probabilities_after;
    const why = [
      ...(e.loss_after > e.loss_before ? [`the loss rose from ${num(e.loss_before)} to ${num(e.loss_after)}`] : []),
      ...(e.known_flipped ?? []).map((f) => `a ${f.label} from MNIST's test set (the samples under the pad) now reads as a ${f.reads}`),
    ];
    const warn = e.overshoots
      ? `<p class="tour-warning" role="note">Too big a step: ${why.join("; ")}. ` +
        `${e.safe_lr ? `With η = ${num(e.safe_lr)} it would not have.` : "Even much smaller steps do not help here."}</p>` : "";
    work.innerHTML = `<div class="tour-rate"><label for="tour-lr">learning rate η</label> <select id="tour-lr">${
      RATES.map((r) => `<option value="${r}"${r === this.lr ? " selected" : ""}>${r}</option>`).join("")}</select>
      <label for="tour-param">parameter</label> <select id="tour-param">${
      this.parameters.map((p) => `<option${p === this.parameter ? " selected" : ""}>${p}</option>`).join("")}</select></div>
      <p>One step on a copy of ${this.current().whose} (the page's network is not changed), for a ${x.label}:</p>
      <p class="tour-loss">The loss on your drawing: ${num(e.loss_before)} → <b>${num(e.loss_after)}</b>;
      the probability of a ${x.label}: ${num(100 * before[x.label], 4)} % → <b>${num(100 * after[x.label], 4)} %</b>;
      it reads a ${e.answer_before} before and a ${e.answer_after} after.</p>${warn}
      <table class="tour-update"><caption>each parameter's cell with the largest gradient</caption>
      <thead><tr><th scope="col">cell</th><th scope="col">old</th><th scope="col">gradient</th><th scope="col">new = old − η × gradient</th></tr></thead>
      <tbody>${rows}</tbody></table>
      <details><summary>all ten probabilities, before and after</summary>${table([before.map((p) => 100 * p), after.map((p) => 100 * p)], null, "probabilities in percent, before (top) and after (bottom)")}</details>
      ${answerHtml(e)}`;
    work.querySelector("#tour-lr").addEventListener("change", (ev) => { this.lr = Number(ev.target.value); this.go(this.n); });
    work.querySelector("#tour-param").addEventListener("change", (ev) => { this.parameter = ev.target.value; this.go(this.n); });
  }
}
