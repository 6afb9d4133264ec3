// Train from scratch: the page loops POST /train, keeping the whole run (its `resume`) itself.
// Each answer brings the loss of every step, the held-out accuracy and the network as it is now,
// which can answer the drawing on the pad instead of the shared one.
import * as api from "./api.js";
import { makeGallery, paintMap } from "./render.js";

const $ = (selector) => document.querySelector(selector);

// What the article's companion code logged for its small run (held-out accuracy and loss by epoch).
const ARTICLE_LOG = { accuracy: [[1, 0.926], [10, 0.981]], loss: [[1, 0.220], [10, 0.074]] };
const EPOCHS = 10;          // the x axis: the article's run is 10 epochs
const LOSS_TOP = 2.5;       // the loss axis, from 0
const BUSY_WAIT_MS = 1000;  // after a 429 or 503: every training slot is taken
const KERNELS = 6, SIDE = 5;

export class Trainer {
  // onNetwork(params or null): the network that should answer drawings changed
  constructor(onNetwork) {
    this.onNetwork = onNetwork;
    this.kernels = makeGallery($("#train-kernels"), KERNELS, SIDE, "k1 (training)");
    this.canvas = $("#train-curve");
    this.clear();
    const speed = $("#train-speed");
    const showSpeed = () => { $("#train-speed-value").textContent = this.images(); };
    speed.addEventListener("input", showSpeed);
    showSpeed();
    $("#train-start").addEventListener("click", () => (this.running ? this.pause() : this.start()));
    $("#train-step").addEventListener("click", () => this.once(1));
    $("#train-reset").addEventListener("click", () => this.reset());
    $("#train-use").addEventListener("click", () => this.use(!this.using));
    $("#train-recipe").addEventListener("change", () => this.reset());
  }

  images() { return 2 ** Number($("#train-speed").value); }  // images per request: 64 to 1024

  clear() {
    this.run = null;         // the last answer: resume, params, step, epoch...
    this.losses = [];        // [epoch, loss] of every step
    this.accuracy = [];      // [epoch, held-out accuracy] after every request
    this.running = false;
    this.busy = false;
    this.using = false;
    this.draw();
  }

  recipe() { return $("#train-recipe").value; }

  start() {
    this.running = true;
    $("#train-start").textContent = "Pause";
    this.loop();
  }

  pause() {
    this.running = false;
    $("#train-start").textContent = "Go on";
  }

  reset() {
    this.pause();
    $("#train-start").textContent = "Start";
    this.use(false);
    this.clear();
    this.kernels.forEach((c) => c.getContext("2d").clearRect(0, 0, c.width, c.height));
    $("#train-reset").disabled = true;
    $("#train-use").disabled = true;
    $("#train-status").textContent = "Not started.";
    document.body.dataset.training = "none";
  }

  use(on) {
    this.using = on && this.run !== null;
    const button = $("#train-use");
    button.setAttribute("aria-pressed", String(this.using));
    button.textContent = this.using ? "Back to the shared one" : "Use the trained network";
    this.onNetwork(this.using ? this.run.params : null);
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
    const batch = this.recipe() === "article" ? 1 : 64;
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
    const flat = api.float32s(answer.params);  // k1 b1 k2 b2 w b: k1 is the first 6 x 5 x 5
    const k1 = Array.from({ length: KERNELS }, (_, k) =>
      Array.from({ length: SIDE }, (_, y) => Array.from(flat.subarray((k * SIDE + y) * SIDE, (k * SIDE + y + 1) * SIDE))));
    const kmax = Math.max(1e-12, ...flat.subarray(0, KERNELS * SIDE * SIDE).map(Math.abs));
    this.kernels.forEach((canvas, i) => paintMap(canvas, k1[i], kmax, { diverging: true, name: `k1[${i}] (training)` }));
    this.draw();
    $("#train-reset").disabled = false;
    $("#train-use").disabled = false;
    const percent = (100 * answer.heldout_accuracy).toFixed(1);
    $("#train-status").textContent = `step ${answer.step.toLocaleString("en")} · epoch ${answer.epoch.toFixed(2)} · ` +
      `held-out accuracy ${percent}% · loss ${answer.heldout_loss.toFixed(3)}`;
    document.body.dataset.training = String(answer.heldout_accuracy);
    if (this.using) this.onNetwork(answer.params);
  }

  // The loss (top half) and the held-out accuracy (bottom half), by epoch, the article's log beside them.
  draw() {
    const ctx = this.canvas.getContext("2d");
    const { width: W, height: H } = this.canvas;
    const pad = 34, half = (H - 3 * 12) / 2;
    ctx.clearRect(0, 0, W, H);
    const x = (epoch) => pad + (W - pad - 8) * Math.min(epoch, EPOCHS) / EPOCHS;
    const lossY = (loss) => 12 + half * (1 - Math.min(loss, LOSS_TOP) / LOSS_TOP);
    const accY = (a) => 24 + half + half * (1 - a);
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#666";
    ctx.strokeStyle = "#ddd";
    for (let e = 0; e <= EPOCHS; e++) {
      ctx.beginPath(); ctx.moveTo(x(e), 12); ctx.lineTo(x(e), H - 12); ctx.stroke();
      if (e % 2 === 0) ctx.fillText(String(e), x(e) - 3, H - 1);
    }
    ctx.fillText("loss", 2, 22); ctx.fillText(String(LOSS_TOP), 2, 34);
    ctx.fillText("100%", 2, accY(1) + 4); ctx.fillText("0%", 8, accY(0));
    // every step's loss, faint, then an exponential moving average over about 1 % of an epoch
    ctx.fillStyle = "rgba(120, 120, 120, 0.25)";
    for (const [e, loss] of this.losses) ctx.fillRect(x(e), lossY(loss), 1, 1);
    ctx.strokeStyle = "#2a6fdb"; ctx.lineWidth = 2; ctx.beginPath();
    const alpha = Math.min(1, 100 / (this.run?.steps_per_epoch ?? 100));  // a window of about 1 % of an epoch
    let smooth = null;
    this.losses.forEach(([e, loss], i) => {
      smooth = smooth === null ? loss : smooth + alpha * (loss - smooth);
      if (i === 0) ctx.moveTo(x(e), lossY(smooth)); else ctx.lineTo(x(e), lossY(smooth));
    });
    ctx.stroke();
    ctx.strokeStyle = "#1a9850"; ctx.beginPath();
    this.accuracy.forEach(([e, a], i) => (i === 0 ? ctx.moveTo(x(e), accY(a)) : ctx.lineTo(x(e), accY(a))));
    ctx.stroke(); ctx.lineWidth = 1;
    const showArticle = this.recipe() === "article";
    ctx.fillStyle = "#e66101";
    if (showArticle) {
      for (const [e, a] of ARTICLE_LOG.accuracy) this.dot(ctx, x(e), accY(a), `${(100 * a).toFixed(1)}%`);
      for (const [e, loss] of ARTICLE_LOG.loss) this.dot(ctx, x(e), lossY(loss), loss.toFixed(3));
    }
    this.canvas.dataset.painted = "true";
    this.canvas.dataset.points = String(this.accuracy.length);
    this.canvas.dataset.steps = String(this.losses.length);
    this.canvas.dataset.articlePoints = String(showArticle ? ARTICLE_LOG.accuracy.length + ARTICLE_LOG.loss.length : 0);
  }

  dot(ctx, cx, cy, text) {
    ctx.beginPath(); ctx.arc(cx, cy, 4, 0, 2 * Math.PI); ctx.fill();
    ctx.fillText(text, Math.min(cx + 6, this.canvas.width - 40), cy - 5);
  }
}
