// Train from scratch: the page loops POST /train, keeping the whole run (its `resume`) itself.
// Each answer brings the loss of every step, the held-out accuracy and the network as it is now,
// which can answer the drawing on the pad instead of the shared one. The recipes, their batch
// sizes, the bound on images a request and the article's log come from GET /model.
import * as api from "./api.js";
import { drawChart } from "./chart.js";
import { $ } from "./dom.js";
import { float32s } from "./http.js";
import { makeGallery, paintMap } from "./render.js";

const BUSY_WAIT_MS = 1000;  // after a 429 or 503: every training slot is taken

// The first kernels of a base64 float32 parameter string: k1 comes first (count x side x side).
export function firstKernels(base64, [count, side]) {
  const flat = float32s(base64);
  return Array.from({ length: count }, (_, k) =>
    Array.from({ length: side }, (_, y) => Array.from(flat.subarray((k * side + y) * side, (k * side + y + 1) * side))));
}

export class Trainer {
  // training: GET /model's `training`; kernelShape: [count, side] of k1;
  // onRun(answer or null): the run moved on (or was erased); onUse(on): "use the trained network" pressed
  constructor(training, kernelShape, { onRun, onUse }) {
    this.recipes = Object.fromEntries((training?.recipes ?? []).map((r) => [r.name, r]));
    this.article = training?.article_log ?? null;
    this.kernelShape = kernelShape;
    this.onRun = onRun;
    this.onUse = onUse;
    this.kernels = makeGallery($("#train-kernels"), kernelShape[0], kernelShape[1], "k1 (training)");
    this.canvas = $("#train-curve");
    this.clear();
    const speed = $("#train-speed");
    speed.max = String(Math.floor(Math.log2(training?.max_images ?? 64)));  // images a request: 64 up to the bound
    speed.value = String(Math.max(Number(speed.min), Number(speed.max) - 1));
    const showSpeed = () => { $("#train-speed-value").textContent = this.images(); };
    speed.addEventListener("input", showSpeed);
    showSpeed();
    $("#train-start").addEventListener("click", () => (this.running ? this.pause() : this.start()));
    $("#train-step").addEventListener("click", () => this.once(1));
    $("#train-reset").addEventListener("click", () => this.ask(() => this.reset()));
    $("#train-use").addEventListener("click", () => this.onUse(!this.using));
    let recipe = this.recipe();
    $("#train-recipe").addEventListener("change", () => {
      const chosen = this.recipe();
      if (!this.run) { recipe = chosen; this.draw(); return; }
      $("#train-recipe").value = recipe;  // not yet: ask first
      this.ask(() => { $("#train-recipe").value = recipe = chosen; this.reset(); });
    });
    $("#train-zoom").addEventListener("change", () => this.draw());
    $("#train-keep").addEventListener("click", () => this.answer(false));
    $("#train-erase").addEventListener("click", () => this.answer(true));
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }

  images() { return 2 ** Number($("#train-speed").value); }

  recipe() { return $("#train-recipe").value; }

  clear() {
    this.run = null;         // the last answer: resume, params, step, epoch...
    this.losses = [];        // [epoch, loss] of every step
    this.accuracy = [];      // [epoch, held-out accuracy] after every request
    this.running = false;
    this.busy = false;
    this.draw();
  }

  // Before anything erases a run: a question, in the page (a run of many steps is worth keeping).
  ask(erase) {
    if (!this.run) { erase(); return; }
    this.pendingErase = erase;
    this.wasRunning = this.running;
    this.pause();
    $("#train-confirm-text").textContent = `Erase this run of ${this.run.step.toLocaleString("en")} steps? `;
    $("#train-confirm").hidden = false;
    $("#train-keep").focus();
  }

  answer(erase) {
    $("#train-confirm").hidden = true;
    const then = this.pendingErase;
    this.pendingErase = null;
    if (erase) then?.();
    else if (this.wasRunning) this.start();
    $("#train-reset").focus();
  }

  start() {
    this.running = true;
    $("#train-start").textContent = "Pause";
    this.loop();
  }

  pause() {
    this.running = false;
    $("#train-start").textContent = this.run ? "Go on" : "Start";
  }

  reset() {
    this.clear();
    this.pause();
    this.kernels.forEach((c) => c.getContext("2d").clearRect(0, 0, c.width, c.height));
    $("#train-reset").disabled = true;
    $("#train-use").disabled = true;
    $("#train-status").textContent = "Not started.";
    document.body.dataset.training = "none";
    this.onRun(null);
  }

  // The switcher's state, told back: the trained network answers or not.
  showUse(on) {
    this.using = on;
    const button = $("#train-use");
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "Back to the shared one" : "Use the trained network";
  }

  async loop() {
    while (this.running) {
      const ok = await this.once(null);
      if (!ok) await new Promise((r) => setTimeout(r, BUSY_WAIT_MS));
    }
  }

  // One request: `steps` steps, or as many as the speed slider allows. Returns false when it
  // should be retried later (the server was busy or away).
  async once(steps) {
    if (this.busy) return true;
    this.busy = true;
    const batch = this.recipes[this.recipe()]?.batch_size ?? 1;
    const request = { steps: steps ?? Math.max(1, Math.floor(this.images() / batch)) };
    Object.assign(request, this.run ? { resume: this.run.resume } : { recipe: this.recipe(), seed: 0 });
    try {
      const answer = await api.train(request);
      const first = answer.step - answer.losses.length;
      answer.losses.forEach((loss, i) => this.losses.push([(first + i + 1) / answer.steps_per_epoch, loss]));
      this.accuracy.push([answer.epoch, answer.heldout_accuracy]);
      this.run = answer;
      this.show(answer);
      return true;
    } catch (e) {
      if (e.status === 429 || e instanceof api.ServerUnreachable) {
        $("#train-status").textContent = "The server is busy training for others; trying again in a moment.";
        return false;
      }
      this.pause();
      $("#train-status").textContent = e.message;
      return true;
    } finally {
      this.busy = false;
    }
  }

  show(answer) {
    const k1 = firstKernels(answer.params, this.kernelShape);
    const kmax = Math.max(1e-12, ...k1.flat(2).map(Math.abs));
    this.kernels.forEach((canvas, i) => paintMap(canvas, k1[i], kmax, { diverging: true, name: `k1[${i}] (training)` }));
    this.draw();
    $("#train-reset").disabled = false;
    $("#train-use").disabled = false;
    const percent = (100 * answer.heldout_accuracy).toFixed(1);
    $("#train-status").textContent = `step ${answer.step.toLocaleString("en")} · epoch ${answer.epoch.toFixed(2)} · ` +
      `held-out accuracy ${percent}% · loss ${answer.heldout_loss.toFixed(3)}`;
    document.body.dataset.training = String(answer.heldout_accuracy);
    this.onRun(answer);
  }

  draw() {
    const article = this.recipe() === "article" ? this.article : null;
    const { shown, epochs } = drawChart(this.canvas, {
      losses: this.losses, accuracy: this.accuracy, article, zoom: $("#train-zoom").checked,
      stepsPerEpoch: this.run?.steps_per_epoch,
    });
    Object.assign(this.canvas.dataset, {
      painted: "true", points: String(this.accuracy.length), steps: String(this.losses.length),
      articlePoints: String(shown), epochs: String(epochs),
    });
  }
}
