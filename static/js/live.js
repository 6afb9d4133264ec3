// The live answer: while the visitor draws, one POST /predict at a time, the newest drawing next, stale
// answers dropped; while the server is away, the drawing is kept and sent again every few seconds.
import * as api from "./api.js";
import { EmptyDrawing, inkOfPixels, normalize } from "./normalize.js";
import { answered, setStatus } from "./status.js";

const THROTTLE_MS = 60;  // at most one prediction per 60 ms while drawing
const RETRY_MS = 3000;   // while the server is away

export class LiveAnswer {
  // pad: the Sketchpad (js/draw.js); hooks: { params() of the network that answers,
  // show(result, grid, final) to paint an answer, blank() when the pad is empty }
  constructor(pad, hooks) {
    this.pad = pad;
    this.hooks = hooks;
    this.inFlight = null;        // the AbortController of the request under way
    this.pending = false;        // the drawing changed while a request was under way
    this.timer = null;           // a send waiting for the throttle
    this.lastSentAt = -Infinity;
    this.changedAt = 0;          // when the drawing last changed
    window.cnnMetrics = [];      // { latency, final }: from a change of the drawing to its answer on screen
  }

  // The pad's change: { final } once a stroke ends (or the pad is cleared, undone, loaded).
  changed({ final }) {
    this.changedAt = performance.now();
    if (final && this.inFlight) { this.inFlight.abort(); this.inFlight = null; }  // its answer is for a drawing now gone
    if (this.pad.isEmpty) { clearTimeout(this.timer); this.timer = null; this.hooks.blank(); return; }
    this.schedule(final);
  }

  schedule(final = false) {
    if (this.inFlight) { this.pending = true; return; }
    const wait = final ? 0 : this.lastSentAt + THROTTLE_MS - performance.now();
    clearTimeout(this.timer);
    this.timer = wait > 0 ? setTimeout(() => this.send(), wait) : (this.send(), null);
  }

  async send() {
    this.timer = null;
    this.pending = false;
    let grid;
    try {
      grid = normalize(inkOfPixels(this.pad.pixels()));
    } catch (e) {
      if (e instanceof EmptyDrawing) return this.hooks.blank();
      throw e;
    }
    const controller = (this.inFlight = new AbortController());
    const drawnAt = this.changedAt, final = !this.pad.current;
    this.lastSentAt = performance.now();
    try {
      const result = await api.predict(grid, { signal: controller.signal, params: this.hooks.params() });
      if (controller.signal.aborted) return;
      this.hooks.show(result, grid, final);
      window.cnnMetrics.push({ latency: performance.now() - drawnAt, final: final && drawnAt === this.changedAt });
      answered();
    } catch (e) {
      if (e.name === "AbortError") return;
      if (e instanceof api.ServerUnreachable) {
        setStatus("offline", "Can't reach the server. Is it running (<code>python -m app</code>)? " +
                             "Your drawing is kept; trying again every few seconds.");
        setTimeout(() => { if (!this.pad.isEmpty && !this.inFlight) this.schedule(true); }, RETRY_MS);
      } else {
        setStatus("error", e.message);
      }
    } finally {
      if (this.inFlight === controller) this.inFlight = null;
      if (this.pending && !this.pad.isEmpty) this.schedule();
    }
  }

  // A grid answered at once (a nudge's frame, a shared drawing, another network chosen).
  async answer(grid, final = true) {
    const result = await api.predict(grid, { params: this.hooks.params() })
      .catch((e) => { setStatus("error", e.message); return null; });
    if (result) this.hooks.show(result, grid, final);
  }
}
