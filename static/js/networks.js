// The networks that can answer, and which one does: the shared one (the server's), your copy (taught
// lesson by lesson in the explorer), the one trained here from scratch, and the class's copy (tuned
// in the teacher's view and kept in this browser's localStorage). Every panel asks this module
// whose parameters to send and how to name them, so that they all describe the same network.
import { $, CLASS_COPY_KEY } from "./dom.js";

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const plural = (n, word) => `${n.toLocaleString("en")} ${word}${n === 1 ? "" : "s"}`;
const count = (v, most) => Number.isInteger(v) && v >= 0 && v <= most;

// The class's copy, if localStorage holds a valid one (it is input: its type and length are checked).
export function readClassCopy(paramsLength, storage = globalThis.localStorage) {
  let text;
  try { text = storage?.getItem(CLASS_COPY_KEY); } catch { return null; }  // storage may be forbidden
  if (typeof text !== "string" || text.length > paramsLength + 1000) return null;
  let entry;
  try { entry = JSON.parse(text); } catch { return null; }
  if (!entry || typeof entry !== "object" || Array.isArray(entry)) return null;
  const { params, steps, drawings, saved } = entry;
  if (typeof params !== "string" || params.length !== paramsLength || !BASE64.test(params)) return null;
  if (!count(steps, 1e9) || !count(drawings, 1e9)) return null;
  if (saved !== undefined && (typeof saved !== "string" || saved.length > 40)) return null;
  return { params, steps, drawings };
}

export class Networks {
  // info: GET /model; onChange(): the answering network (or its parameters) changed
  constructor(info, onChange) {
    this.info = info;
    this.onChange = onChange;
    this.entries = { shared: { params: null } };  // kind -> { params, and what names it }
    this.active = "shared";
    this.buttons = [...document.querySelectorAll("#networks button[data-network]")];
    for (const button of this.buttons) button.addEventListener("click", () => this.use(button.dataset.network));
    const loadClass = () => {
      const copy = info ? readClassCopy(info.training.params_length) : null;
      if (copy) this.set("class", copy); else this.remove("class");
    };
    loadClass();
    this.#render();
    addEventListener("storage", (e) => { if (e.key === CLASS_COPY_KEY) loadClass(); });
  }

  get params() { return this.entries[this.active].params; }

  has(kind) { return kind in this.entries; }

  // A network to offer (and, with use, to answer): replaces what was there under that kind.
  set(kind, entry, { use = false } = {}) {
    this.entries[kind] = entry;
    if (use) this.active = kind;
    this.#render();
    if (use || this.active === kind) this.onChange();
  }

  remove(kind) {
    if (kind === "shared" || !(kind in this.entries)) return;
    delete this.entries[kind];
    const was = this.active;
    if (was === kind) this.active = "shared";
    this.#render();
    if (was === kind) this.onChange();
  }

  use(kind) {
    if (!(kind in this.entries) || kind === this.active) return;
    this.active = kind;
    this.#render();
    this.onChange();
  }

  // The badge's words: which network answers, with the figure that describes it.
  describe(kind = this.active) {
    const e = this.entries[kind];
    const accuracy = this.info ? (100 * this.info.metadata.test_accuracy).toFixed(2) : "?";
    switch (kind) {
      case "taught": return `your copy, after ${plural(e.steps, "lesson")}`;
      case "scratch": return `the one trained here from scratch, after ${plural(e.steps, "step")}` +
        (e.accuracy === undefined ? "" : ` (${(100 * e.accuracy).toFixed(1)}% held out)`);
      case "class": return `the class's copy, tuned on ${plural(e.drawings, "drawing")}`;
      default: return `the shared network, ${accuracy}% on MNIST's 10,000 test digits`;
    }
  }

  // How the explorer's sentences name it ("the network gives a 3 ...").
  short() {
    const e = this.entries[this.active];
    switch (this.active) {
      case "taught": return `your copy (taught ${plural(e.steps, "step")})`;
      case "scratch": return "the one trained here";
      case "class": return "the class's copy";
      default: return "the network";
    }
  }

  #render() {
    $("#answering").textContent = this.describe();
    document.body.dataset.network = this.active;
    for (const button of this.buttons) {
      const kind = button.dataset.network;
      button.hidden = !(kind in this.entries);
      button.setAttribute("aria-pressed", String(kind === this.active));
      button.title = kind in this.entries ? this.describe(kind) : "";
    }
    const parameters = this.info?.parameters.toLocaleString("en") ?? "?";
    $("#model-facts").textContent = `${parameters} parameters; every panel below shows ${this.describe()}.`;
  }
}
