// The backprop explorer: pick the digit it should have been, see every gradient the article
// names for your drawing, and teach your own copy of the network one SGD step at a time.
// The copy's 3,898 parameters live here, in the page, and travel with each request.
import * as api from "./api.js";
import { makeGallery, paintMap } from "./render.js";

const $ = (selector) => document.querySelector(selector);

// The gradients painted as maps; every gradient's norm is listed. Their shapes, meanings and
// equation numbers come from GET /model, in the order backpropagation computes them.
const PAINTED = new Set(["dLP2", "dLS2", "dLP1", "dLC1", "dLS1", "dLk1", "dLI"]);

export class Explorer {
  // gradients: GET /model's list of { name, equation, shape, meaning }
  constructor(gradients) {
    this.order = gradients.map(({ name }) => name);
    this.panels = Object.fromEntries(gradients.filter(({ name }) => PAINTED.has(name)).map(({ name, equation, shape, meaning }) => [
      name, { count: shape.length === 3 ? shape[0] : 1, side: shape.at(-1), caption: equation === "-" ? meaning : `${meaning} (${equation})` },
    ]));
    this.grid = null;    // the 28x28 input of the last prediction
    this.label = null;   // the digit to blame
    this.params = null;  // the visitor's parameters (base64 float32), null = the shared network's
    this.steps = 0;
    this.galleries = {};
    this.controller = null;
    const grads = $("#grads");
    for (const [name, { count, side, caption }] of Object.entries(this.panels)) {
      const figure = document.createElement("figure");
      figure.className = `grad grad-${name}`;
      const gallery = document.createElement("div");
      gallery.className = "gallery";
      gallery.id = `grad-${name}`;
      figure.append(gallery);
      const text = document.createElement("figcaption");
      text.innerHTML = `<var>${name}</var> ${caption} · norm <span class="norm" id="norm-${name}">–</span>`;
      figure.append(text);
      grads.append(figure);
      this.galleries[name] = makeGallery(gallery, count, side, name);
    }
    const norms = document.createElement("p");
    norms.id = "norms";
    norms.className = "norms";
    grads.append(norms);
    const blame = $("#blame");
    for (let digit = 0; digit < 10; digit++) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = digit;
      button.setAttribute("aria-pressed", "false");
      button.setAttribute("aria-label", `What if it were a ${digit}?`);
      button.addEventListener("click", () => this.choose(digit));
      blame.append(button);
    }
    const lr = $("#lr");
    const showRate = () => { $("#lr-value").textContent = this.rate().toPrecision(2); };
    lr.addEventListener("input", showRate);
    showRate();
    $("#teach").addEventListener("click", () => this.teach());
    $("#nudge").addEventListener("click", () => this.nudge());
    this.onGrid = null;  // main.js: show this grid as the network's input (after a nudge)
    this.onEquation = null;  // main.js: write out the equation of a clicked gradient cell
    // Any entry of any gradient, painted or not (dLw, dLb, dLk2...): by name and index.
    this.shapes = Object.fromEntries(gradients.map(({ name, shape }) => [name, shape]));
    const select = $("#check-gradient");
    for (const { name } of gradients) select.append(new Option(name, name));
    const showShape = () => { $("#check-shape").textContent = `shape [${this.shapes[select.value].join(", ")}]`; };
    select.addEventListener("change", showShape);
    if (gradients.length) { select.value = "dLw"; $("#check-index").value = "0, 0"; showShape(); }
    $("#check-any").addEventListener("submit", (e) => {
      e.preventDefault();
      const index = $("#check-index").value.split(/[\s,]+/).filter(Boolean).map(Number);
      this.checkEntry(select.value, index);
    });
    for (const [name, canvases] of Object.entries(this.galleries))
      canvases.forEach((canvas, i) => canvas.addEventListener("click", (e) => this.check(name, i, canvas, e)));
    $("#reset").addEventListener("click", () => this.reset());
  }

  rate() { return 10 ** Number($("#lr").value); }

  // A new prediction arrived: explain it, if a digit to blame is chosen.
  update(grid) {
    this.grid = grid;
    $("#teach").disabled = this.grid === null || this.label === null;
    $("#nudge").disabled = this.grid === null || this.label === null;
    if (this.label !== null && grid) this.explain();
  }

  choose(digit) {
    this.label = digit;
    document.querySelectorAll("#blame button").forEach((b, d) => b.setAttribute("aria-pressed", String(d === digit)));
    $("#teach").disabled = this.grid === null;
    $("#nudge").disabled = this.grid === null;
    $("#nudge").firstChild.textContent = `Make it a ${digit}: change the drawing, `;
    if (this.grid) this.explain();
  }

  // "Make it a 9": the server takes gradient steps on the image; the page plays them back.
  async nudge() {
    if (this.grid === null || this.label === null) return;
    const target = this.label, out = $("#nudged");
    $("#nudge").disabled = true;
    try {
      const answer = await api.nudge(this.grid, target, $("#nudge-mode").value, this.params);
      for (const [i, frame] of answer.frames.entries()) {
        this.onGrid?.(frame, { animating: i < answer.frames.length - 1 });
        out.textContent = `Step ${i} of ${answer.steps}: O${target} = ${(100 * answer.target_probability[i]).toFixed(1)}%`;
        await new Promise((r) => setTimeout(r, 120));
      }
      out.textContent = answer.reached
        ? `It reads ${answer.label} now, after ${answer.steps} step${answer.steps === 1 ? "" : "s"}: the picture moved ` +
          `${answer.l2.toFixed(2)} (L2), no pixel by more than ${answer.largest_change.toFixed(2)}.`
        : `After ${answer.steps} steps it still reads ${answer.label}; O${target} = ` +
          `${(100 * answer.target_probability.at(-1)).toFixed(1)}%.`;
      out.dataset.reached = String(answer.reached);
      out.dataset.steps = String(answer.steps);
      this.grid = answer.image;
      this.explain();
    } catch (e) {
      out.textContent = e.message;
    } finally {
      $("#nudge").disabled = false;
    }
  }

  // "Check it yourself": the clicked cell of a gradient map, checked numerically by the server.
  async check(name, channel, canvas, event) {
    if (this.grid === null || this.label === null || !canvas.values) return;
    const box = canvas.getBoundingClientRect();
    const row = Math.min(canvas.height - 1, Math.floor((event.clientY - box.top) / box.height * canvas.height));
    const col = Math.min(canvas.width - 1, Math.floor((event.clientX - box.left) / box.width * canvas.width));
    const index = this.panels[name].count === 1 ? [row, col] : [channel, row, col];
    if (name === "dLP2" || name === "dLk1") this.onEquation?.(name, index);
    await this.checkEntry(name, index);
  }

  async checkEntry(name, index) {
    const out = $("#checked");
    if (this.grid === null || this.label === null) { out.textContent = "Draw a digit and pick one above first."; return; }
    try {
      const c = await api.check(this.grid, this.label, name, index, this.params);
      out.textContent = `${name}[${index.join(", ")}]: backpropagation ${c.analytic.toPrecision(8)}, ` +
        `(L(x+ε) − L(x−ε)) / 2ε = ${c.numerical.toPrecision(8)}, relative error ${c.relative_error.toExponential(1)}. ${c.why}`;
      out.dataset.agrees = String(c.agrees || c.kink);
      out.dataset.gradient = name;
    } catch (e) {
      out.textContent = e.message;
    }
  }

  async explain() {
    this.controller?.abort();
    const controller = (this.controller = new AbortController());
    try {
      const answer = await api.explain(this.grid, this.label, this.params, { signal: controller.signal });
      if (controller.signal.aborted) return;
      this.show(answer);
    } catch (e) {
      if (e.name !== "AbortError") $("#loss").textContent = e.message;
    }
  }

  show({ label, loss, probabilities, gradients, norms, equations }) {
    const whose = this.params ? `your copy (taught ${this.steps} step${this.steps === 1 ? "" : "s"})` : "the network";
    $("#loss").textContent = `${whose} gives a ${label} a probability of ${(100 * probabilities[label]).toFixed(2)}%: ` +
      `L = −ln O${label} = ${loss.toFixed(4)}`;
    $("#loss").dataset.probability = probabilities[label];
    for (const [name, canvases] of Object.entries(this.galleries)) {
      const maps = this.panels[name].count === 1 ? [gradients[name]] : gradients[name];
      const vmax = Math.max(1e-12, ...maps.flat(Infinity).map(Math.abs));
      canvases.forEach((canvas, i) => {
        const title = `${name}${maps.length > 1 ? `[${i}]` : ""}, eq. (${equations[name]})`;
        paintMap(canvas, maps[i], vmax, { diverging: true, name: title });
        canvas.title = title;
      });
      $(`#norm-${name}`).textContent = norms[name].toPrecision(3);
    }
    $("#norms").innerHTML = "Gradient norms, from the answer back to the image: " + this.order.map((name) =>
      `<span title="eq. (${equations[name]})"><var>${name}</var> ${norms[name].toPrecision(3)}</span>`).join(" · ");
    document.body.dataset.explained = "true";
  }

  async teach() {
    if (this.grid === null || this.label === null) return;
    $("#teach").disabled = true;
    try {
      const lesson = await api.teach(this.grid, this.label, this.rate(), this.params);
      this.params = lesson.params;
      this.steps += 1;
      const before = lesson.probabilities_before[this.label], after = lesson.probabilities_after[this.label];
      const out = $("#lesson");
      out.textContent = `Step ${this.steps} (η = ${lesson.lr.toPrecision(2)}): the probability of a ${this.label} went ` +
        `from ${(100 * before).toFixed(2)}% to ${(100 * after).toFixed(2)}%, the loss from ` +
        `${lesson.loss_before.toFixed(3)} to ${lesson.loss_after.toFixed(3)}. Only your copy changed.`;
      out.dataset.before = before;
      out.dataset.after = after;
      $("#reset").disabled = false;
      await this.explain();
    } catch (e) {
      $("#lesson").textContent = e.message;
    } finally {
      $("#teach").disabled = false;
    }
  }

  reset() {
    this.params = null;
    this.steps = 0;
    $("#reset").disabled = true;
    $("#lesson").textContent = "Back to the shared network: your lessons are forgotten.";
    delete $("#lesson").dataset.after;
    if (this.grid && this.label !== null) this.explain();
  }
}
