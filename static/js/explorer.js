// The backprop explorer: pick the digit it should have been, see every gradient the article
// names for your drawing, and teach your own copy of the network one SGD step at a time.
// The copy's parameters live here, in the page (js/networks.js), and travel with each request.
import * as api from "./api.js";
import { $ } from "./dom.js";
import { FLOAT32_NOISE, num } from "./format.js";
import { enableCells, makeGallery, paintMap } from "./render.js";


// The gradients painted as maps; every gradient's norm is listed. Their shapes, meanings and
// equation numbers come from GET /model, in the order backpropagation computes them.
const PAINTED = new Set(["dLP2", "dLS2", "dLP1", "dLC1", "dLS1", "dLk1", "dLI"]);
const eqText = (equation) => (equation && equation !== "-" ? `, eq. (${equation})` : "");

export class Explorer {
  // gradients: GET /model's list of { name, equation, shape, meaning }; networks: js/networks.js
  // hooks: { onGrid(grid, final), onEquation(gradient, index, canvas), onChecked(text, canvas) }
  constructor(gradients, networks, hooks) {
    this.networks = networks;
    this.hooks = hooks;
    this.order = gradients.map(({ name }) => name);
    this.equations = Object.fromEntries(gradients.map(({ name, equation }) => [name, equation]));
    this.panels = Object.fromEntries(gradients.filter(({ name }) => PAINTED.has(name)).map(({ name, equation, shape, meaning }) => [
      name, { count: shape.length === 3 ? shape[0] : 1, side: shape.at(-1),
              caption: `${shape.join("×")}, ${equation === "-" ? meaning : `${meaning} (${equation})`}` },
    ]));
    this.grid = null;    // the 28x28 input of the last prediction
    this.label = null;   // the digit to blame
    this.last = null;    // the last explanation, repainted when the colour scale changes
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
      text.innerHTML = `<var>${name}</var> ${caption} · size <span class="norm" id="norm-${name}">–</span>`;
      figure.append(text);
      grads.append(figure);
      this.galleries[name] = makeGallery(gallery, count, side, `${name}: arrow keys choose a cell, Enter checks it;`);
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
    $("#shared-scale").addEventListener("change", () => { if (this.last) this.show(this.last); });
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
      this.checkEntry(select.value, index, null);
    });
    const cursor = $("#cell-cursor"), tooltip = $("#tooltip");
    for (const [name, canvases] of Object.entries(this.galleries))
      canvases.forEach((canvas, i) => enableCells(canvas, (cell) => this.check(name, i, cell, canvas), cursor, tooltip));
    $("#reset").addEventListener("click", () => this.networks.remove("taught"));
  }

  rate() { return 10 ** Number($("#lr").value); }

  // A new prediction arrived (or the answering network changed): explain it, if a digit is chosen.
  update(grid) {
    this.grid = grid;
    $("#teach").disabled = this.grid === null || this.label === null;
    $("#nudge").disabled = this.grid === null || this.label === null;
    $("#reset").disabled = !this.networks.has("taught");
    if (this.label !== null && grid) this.explain();
  }

  choose(digit) {
    this.label = digit;
    document.querySelectorAll("#blame button").forEach((b, d) => b.setAttribute("aria-pressed", String(d === digit)));
    $("#teach").disabled = this.grid === null;
    $("#nudge").disabled = this.grid === null;
    $("#nudge").firstChild.textContent = `Make it a ${digit}: change the drawing `;
    if (this.grid) this.explain();
  }

  // "Make it a 9": the server takes gradient steps on the image; the page plays them back, right
  // here beside the button, and on the pad and the answer above.
  async nudge() {
    if (this.grid === null || this.label === null) return;
    const target = this.label, out = $("#nudged"), frames = $("#nudge-frames");
    $("#nudge").disabled = true;
    try {
      const answer = await api.nudge(this.grid, target, $("#nudge-mode").value, this.networks.params);
      for (const [i, frame] of answer.frames.entries()) {
        paintMap(frames, frame, 1, { name: `nudged image, step ${i}` });
        const final = i === answer.frames.length - 1;
        this.hooks.onGrid(frame, final);
        out.textContent = `Step ${i} of ${answer.steps}: O${target} = ${(100 * answer.target_probability[i]).toFixed(1)}%`;
        if (!final) await new Promise((r) => setTimeout(r, 120));
      }
      const whose = this.networks.short();
      out.textContent = !answer.reached
        ? `After ${answer.steps} steps ${whose} still reads ${answer.label}; O${target} = ` +
          `${(100 * answer.target_probability.at(-1)).toFixed(1)}%.`
        : answer.steps === 0 ? `${whose} already reads ${answer.label}: nothing to change.`
          : `${whose} reads ${answer.label} now, after ${answer.steps} step${answer.steps === 1 ? "" : "s"}: the picture moved ` +
            `${answer.l2.toFixed(2)} (L2), no pixel by more than ${answer.largest_change.toFixed(2)}.`;
      out.textContent = out.textContent[0].toUpperCase() + out.textContent.slice(1);
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

  // "Check it yourself": the chosen cell of a gradient map, checked numerically by the server.
  async check(name, channel, [row, col], canvas) {
    if (this.grid === null || this.label === null || !canvas.values) return;
    const index = this.panels[name].count === 1 ? [row, col] : [channel, row, col];
    if (this.equations[name] !== "-") this.hooks.onEquation(name, index, canvas);  // none for dLI
    await this.checkEntry(name, index, canvas);
  }

  async checkEntry(name, index, canvas) {
    const out = $("#checked");
    if (this.grid === null || this.label === null) { out.textContent = "Draw a digit and pick one above first."; return; }
    try {
      const c = await api.check(this.grid, this.label, name, index, this.networks.params);
      out.textContent = `${name}[${index.join(", ")}]: backpropagation ${c.analytic.toPrecision(8)}, ` +
        `(L(x+ε) − L(x−ε)) / 2ε = ${c.numerical.toPrecision(8)}, relative error ${c.relative_error.toExponential(1)}. ${c.why}`;
      out.dataset.agrees = String(c.agrees || c.kink);
      out.dataset.gradient = name;
    } catch (e) {
      out.textContent = e.message;
    }
    if (canvas) this.hooks.onChecked(out.textContent, canvas, this.equations[name] !== "-");
  }

  async explain() {
    this.controller?.abort();
    const controller = (this.controller = new AbortController());
    try {
      const answer = await api.explain(this.grid, this.label, this.networks.params, { signal: controller.signal });
      if (controller.signal.aborted) return;
      this.show(answer);
    } catch (e) {
      if (e.name !== "AbortError") $("#loss").textContent = e.message;
    }
  }

  show(answer) {
    const { label, loss, probabilities, gradients, norms, equations } = answer;
    this.last = answer;
    $("#loss").textContent = `${this.networks.short()} gives a ${label} a probability of ` +
      `${(100 * probabilities[label]).toFixed(2)}%: L = −ln O${label} = ${loss.toFixed(4)}`;
    $("#loss").dataset.probability = probabilities[label];
    const mapsOf = (name) => (this.panels[name].count === 1 ? [gradients[name]] : gradients[name]);
    // When the network is already sure of the label, O − y is float32's rounding (about 1e-8) and so is
    // every gradient after it: scaled to its own largest value, that noise used to fill each map with
    // full-colour blocks. Below the noise a map is painted as 0 and its size written "≈ 0".
    const quiet = Math.max(...gradients.dLS.map(Math.abs)) < FLOAT32_NOISE;
    const largest = (name) => (quiet ? 1 : Math.max(1e-12, ...mapsOf(name).flat(Infinity).map(Math.abs)));
    // One scale for all: a map that looks faint is small next to the others (and to the last scale).
    const shared = $("#shared-scale").checked ? Math.max(...Object.keys(this.galleries).map(largest)) : null;
    for (const [name, canvases] of Object.entries(this.galleries)) {
      const maps = mapsOf(name), vmax = shared ?? largest(name);
      canvases.forEach((canvas, i) => {
        const title = `${name}${maps.length > 1 ? `[${i}]` : ""}`;
        paintMap(canvas, maps[i], vmax, { diverging: true, name: title });
        canvas.dataset.equation = equations[name];
      });
      $(`#norm-${name}`).textContent = quiet ? "≈ 0" : num(norms[name]);
    }
    $("#grad-scale").textContent = quiet ? `every gradient ≈ 0: the network is already sure of a ${label}, nothing to learn`
      : shared === null ? "each map scaled to its own largest |value|"
      : `every map from −${shared.toPrecision(3)} (blue) to +${shared.toPrecision(3)} (red)`;
    $("#norms").innerHTML = "How large each gradient is (the square root of the sum of its squares), from the answer " +
      "back to the image: " + this.order.map((name) =>
      `<span><var>${name}</var>${eqText(equations[name]).replace(", eq.", " eq.")} ${quiet ? "≈ 0" : num(norms[name])}</span>`).join(" · ");
    document.body.dataset.explained = "true";
  }

  async teach() {
    if (this.grid === null || this.label === null) return;
    $("#teach").disabled = true;
    // Lessons go to your copy; the first one copies whichever network is answering.
    const n = this.networks, grid = this.grid, label = this.label, lr = this.rate();
    const copy = n.active === "taught" ? n.entries.taught : { params: null, steps: 0, base: n.params, lessons: [] };
    try {
      const lesson = await api.teach(grid, label, lr, copy.params ?? copy.base);
      const steps = copy.steps + 1;
      const before = lesson.probabilities_before[label], after = lesson.probabilities_after[label];
      const out = $("#lesson");
      out.textContent = `Step ${steps} (η = ${lesson.lr.toPrecision(2)}): the probability of a ${label} went ` +
        `from ${(100 * before).toFixed(2)}% to ${(100 * after).toFixed(2)}%, the loss from ` +
        `${lesson.loss_before.toFixed(3)} to ${lesson.loss_after.toFixed(3)}. Only your copy changed.`;
      out.dataset.before = before;
      out.dataset.after = after;
      n.set("taught", { ...copy, params: lesson.params, steps, lessons: [...copy.lessons, { grid, label, lr }] }, { use: true });
    } catch (e) {
      $("#lesson").textContent = e.message;
    } finally {
      $("#teach").disabled = false;
    }
  }

  forgotten() {
    $("#lesson").textContent = "Back to the shared network: your lessons are forgotten.";
    delete $("#lesson").dataset.after;
  }
}
