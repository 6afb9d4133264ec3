// The training chart: the loss above, the held-out accuracy below, each on its own axis, against
// epochs on an axis that grows with the run. Drawn at the canvas's size on screen (times the
// device's pixel ratio), so that its labels are as large as the page's small print.

const FONT_PX = 12;
const LOSS_COLOUR = "#2a6fdb", ACCURACY_COLOUR = "#1a9850", ARTICLE_COLOUR = "#c05000", GRID = "#e3e5ec", TEXT = "#4a5060";

// A round number of epochs just past `epoch`: 2, 5, 10, 20, 50...
function niceTop(epoch) {
  for (let scale = 1; ; scale *= 10) for (const step of [1, 2, 5]) if (step * scale >= epoch) return Math.max(2, step * scale);
}
const niceStep = (top) => (top <= 2 ? 0.5 : top <= 5 ? 1 : top / 5);

// series: { losses: [[epoch, loss]], accuracy: [[epoch, a]], article: { loss, accuracy } or null, stepsPerEpoch, zoom }
export function drawChart(canvas, { losses, accuracy, article, stepsPerEpoch, zoom }) {
  const ratio = devicePixelRatio || 1, box = canvas.getBoundingClientRect();
  const W = Math.max(200, Math.round(box.width)), H = Math.max(160, Math.round(box.height));
  if (canvas.width !== W * ratio || canvas.height !== H * ratio) { canvas.width = W * ratio; canvas.height = H * ratio; }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, W, H);
  ctx.font = `${FONT_PX}px system-ui, sans-serif`;
  const left = 46, right = 14, top = 18, bottom = 36, gap = 28;
  const panel = (H - top - bottom - gap) / 2;
  const last = Math.max(losses.at(-1)?.[0] ?? 0, accuracy.at(-1)?.[0] ?? 0);
  const xTop = niceTop(last * 1.05);
  const x = (e) => left + ((W - left - right) * Math.min(e, xTop)) / xTop;
  const lossTop = Math.max(0.5, Math.min(2.5, Math.ceil(2 * Math.max(...losses.slice(-2000).map(([, l]) => l), 0)) / 2));
  const lossY = (l) => top + panel * (1 - Math.min(l, lossTop) / lossTop);
  const [aLow, aHigh] = zoom ? [0.9, 1] : [0, 1];
  const accTop = top + panel + gap;
  const accY = (a) => accTop + panel * (1 - (Math.max(aLow, Math.min(aHigh, a)) - aLow) / (aHigh - aLow));

  // axes, grid lines and their labels
  ctx.strokeStyle = GRID; ctx.fillStyle = TEXT; ctx.lineWidth = 1;
  const hline = (y, label) => {
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(W - right, y); ctx.stroke();
    ctx.textAlign = "right"; ctx.fillText(label, left - 5, y + 4);
  };
  for (let k = 0; k <= 2; k++) hline(lossY((lossTop * k) / 2), ((lossTop * k) / 2).toFixed(k ? 2 : 0).replace(/\.?0+$/, "") || "0");
  for (let k = 0; k <= 2; k++) { const a = aLow + ((aHigh - aLow) * k) / 2; hline(accY(a), `${(100 * a).toFixed(0)}%`); }
  const step = niceStep(xTop);
  ctx.textAlign = "center";
  for (let e = 0; e <= xTop + 1e-9; e += step) {
    ctx.beginPath(); ctx.moveTo(x(e), top); ctx.lineTo(x(e), top + panel); ctx.moveTo(x(e), accTop); ctx.lineTo(x(e), accTop + panel); ctx.stroke();
    ctx.fillText(String(+e.toFixed(1)), Math.min(x(e), W - right - 8), H - bottom + 15);
  }
  ctx.textAlign = "left";
  ctx.fillText("loss", left + 4, top - 5);
  ctx.fillText(zoom ? "held-out accuracy (90–100 %)" : "held-out accuracy", left + 4, accTop - 5);
  ctx.textAlign = "center";
  ctx.fillText("epochs (passes over the training images)", (left + W - right) / 2, H - 3);

  // every step's loss, faint, then an exponential moving average over about 1 % of an epoch
  ctx.fillStyle = "rgba(110, 110, 110, 0.3)";
  for (const [e, l] of losses) ctx.fillRect(x(e), lossY(l), 1.2, 1.2);
  ctx.strokeStyle = LOSS_COLOUR; ctx.lineWidth = 2; ctx.beginPath();
  const alpha = Math.min(1, 100 / (stepsPerEpoch || 100));
  let smooth = null;
  losses.forEach(([e, l], i) => {
    smooth = smooth === null ? l : smooth + alpha * (l - smooth);
    if (i === 0) ctx.moveTo(x(e), lossY(smooth)); else ctx.lineTo(x(e), lossY(smooth));
  });
  ctx.stroke();
  ctx.strokeStyle = ACCURACY_COLOUR; ctx.beginPath();
  accuracy.forEach(([e, a], i) => (i === 0 ? ctx.moveTo(x(e), accY(a)) : ctx.lineTo(x(e), accY(a))));
  ctx.stroke();
  ctx.lineWidth = 1;
  let shown = 0;
  if (article) {
    ctx.fillStyle = ARTICLE_COLOUR; ctx.textAlign = "left";
    const dot = (cx, cy, text) => {
      ctx.beginPath(); ctx.arc(cx, cy, 4, 0, 2 * Math.PI); ctx.fill();
      ctx.fillText(text, Math.min(cx + 6, W - right - 52), cy - 6);
      shown += 1;
    };
    for (const [e, a] of article.accuracy) if (e <= xTop && a >= aLow) dot(x(e), accY(a), `${(100 * a).toFixed(1)}%`);
    for (const [e, l] of article.loss) if (e <= xTop) dot(x(e), lossY(l), l.toFixed(3));
  }
  return { shown, epochs: xTop };
}
