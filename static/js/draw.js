// The drawing pad: dark ink on white paper, drawn with mouse, touch or pen (pointer events).
// Strokes are kept as point lists, so undo simply redraws all but the last one. The pad's own
// shortcuts (Delete, Backspace or c clears, Ctrl+Z undoes) act only while the pad has the focus.
import { paintThumbnail } from "./render.js";

export const SIDE = 560; // the canvas's own pixels, whatever its size on screen (crisp on high-DPI screens)
const PEN = 36;          // stroke width in canvas pixels: about MNIST's pencil on a digit of half the pad

export class Sketchpad {
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.onChange = onChange; // called with { final } after every change
    this.strokes = [];        // each: { points: [[x, y], ...] } or { grid } for a loaded sample
    this.current = null;
    canvas.width = canvas.height = SIDE;
    canvas.addEventListener("pointerdown", (e) => this.#down(e));
    canvas.addEventListener("pointermove", (e) => this.#move(e));
    for (const type of ["pointerup", "pointercancel"]) canvas.addEventListener(type, (e) => this.#up(e));
    canvas.addEventListener("keydown", (e) => this.#key(e));
    this.redraw();
  }

  get isEmpty() { return this.strokes.length === 0; }

  clear() { this.strokes = []; this.current = null; this.redraw(); this.onChange({ final: true }); }

  undo() {
    if (this.isEmpty) return;
    this.strokes.pop();
    this.redraw();
    this.onChange({ final: true });
  }

  // A 28x28 grid of 0..255 ink (an MNIST digit), drawn large and smooth in place of everything.
  loadGrid(grid) {
    this.strokes = [{ grid }];
    this.redraw();
    this.onChange({ final: true });
  }

  // A picture of a 28x28 grid (a shared drawing, a nudged one), shown without asking for a new answer:
  // the answer on screen is the grid's own; drawing over it starts anew.
  showGrid(grid) {
    this.strokes = [{ grid: grid.map((row) => row.map((v) => 255 * v)) }];
    this.current = null;
    this.redraw();
  }

  pixels() { return this.ctx.getImageData(0, 0, SIDE, SIDE); }

  #point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * SIDE) / r.width, ((e.clientY - r.top) * SIDE) / r.height];
  }

  #down(e) {
    if (e.button !== 0 && e.pointerType === "mouse") return;
    e.preventDefault();
    this.canvas.focus({ preventScroll: true });  // its shortcuts act only while it has the focus
    this.canvas.setPointerCapture(e.pointerId);
    if (this.strokes.length === 1 && this.strokes[0].grid) this.strokes = []; // drawing over a sample starts anew
    this.current = { points: [this.#point(e)] };
    this.strokes.push(this.current);
    this.redraw();
    this.onChange({ final: false });
  }

  #move(e) {
    if (!this.current) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e]; // every sample of a fast pen
    for (const ev of events.length ? events : [e]) this.current.points.push(this.#point(ev));
    this.redraw();
    this.onChange({ final: false });
  }

  #key(e) {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { e.preventDefault(); this.undo(); }
    else if (!e.ctrlKey && !e.metaKey && !e.altKey && ["Delete", "Backspace", "c", "C"].includes(e.key)) {
      e.preventDefault();
      this.clear();
    }
  }

  #up() {
    if (!this.current) return;
    this.current = null;
    this.onChange({ final: true });
  }

  redraw() {
    const { ctx } = this;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, SIDE, SIDE);
    for (const stroke of this.strokes) (stroke.grid ? this.#paintGrid : this.#paintStroke).call(this, stroke);
  }

  #paintStroke({ points }) {
    const { ctx } = this;
    ctx.strokeStyle = ctx.fillStyle = "#111";
    ctx.lineWidth = PEN;
    ctx.lineCap = ctx.lineJoin = "round";
    if (points.length === 1) {
      ctx.beginPath();
      ctx.arc(points[0][0], points[0][1], PEN / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    // Quadratic curves through the midpoints: smooth strokes from jagged pointer samples.
    ctx.beginPath();
    ctx.moveTo(...points[0]);
    for (let i = 1; i < points.length - 1; i++) {
      const [x, y] = points[i], [nx, ny] = points[i + 1];
      ctx.quadraticCurveTo(x, y, (x + nx) / 2, (y + ny) / 2);
    }
    ctx.lineTo(...points[points.length - 1]);
    ctx.stroke();
  }

  #paintGrid({ grid }) {
    this.ctx.imageSmoothingEnabled = true;
    this.ctx.imageSmoothingQuality = "high";
    this.ctx.drawImage(paintThumbnail(new OffscreenCanvas(1, 1), grid), 0, 0, SIDE, SIDE);
  }
}
