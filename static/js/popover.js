// A click's result opens where the click was: one panel (the equation, a gradient check) placed
// beside what was chosen, inside the viewport. Escape or × closes it and gives the focus back.
import { $ } from "./dom.js";

const clamp = (v, low, high) => Math.max(low, Math.min(high, v));
const MARGIN = 8;

let anchor = null;

function place() {
  const pop = $("#stage-equation");
  if (pop.hidden || !anchor) return;
  const r = anchor.getBoundingClientRect(), w = pop.offsetWidth, h = pop.offsetHeight;
  const fitsBelow = r.bottom + MARGIN + h <= innerHeight - MARGIN, fitsAbove = r.top - MARGIN - h >= MARGIN;
  let left = clamp(r.left, MARGIN, innerWidth - w - MARGIN), top;
  if (fitsBelow) top = r.bottom + MARGIN;
  else if (fitsAbove) top = r.top - MARGIN - h;
  else {  // beside it, or else over the lower part of the viewport
    top = clamp(r.top, MARGIN, innerHeight - h - MARGIN);
    if (r.right + MARGIN + w <= innerWidth - MARGIN) left = r.right + MARGIN;
    else if (r.left - MARGIN - w >= MARGIN) left = r.left - MARGIN - w;
    else top = clamp(r.bottom + MARGIN, MARGIN, innerHeight - h - MARGIN);
  }
  pop.style.left = `${left + scrollX}px`;
  pop.style.top = `${top + scrollY}px`;
}

// Opens (or moves) the panel beside `element`; call again once its content has changed size.
export function openBeside(element) {
  anchor = element;
  $("#stage-equation").hidden = false;
  place();
}

export function closePopover({ refocus = true } = {}) {
  const pop = $("#stage-equation");
  if (pop.hidden) return;
  pop.hidden = true;
  if (refocus) anchor?.focus({ preventScroll: true });
}

export function setUpPopover() {
  $("#pop-close").addEventListener("click", closePopover);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closePopover(); });
  document.addEventListener("pointerdown", (e) => {
    if (!$("#stage-equation").hidden && !e.target.closest("#stage-equation") && e.target !== anchor) closePopover({ refocus: false });
  });
  addEventListener("resize", place);
}
