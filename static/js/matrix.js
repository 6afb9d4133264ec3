// A confusion matrix as a table: rows the digit meant, columns the network's answer, the diagonal right.
// With onCell, each non-empty cell is a button that shows its drawings (the live board, class-board.js).
import { article } from "./format.js";

export function renderMatrix(table, matrix, { caption, captionClass = "", onCell = null }) {
  table.replaceChildren();
  const title = table.createCaption();
  title.className = captionClass;
  title.textContent = caption;
  const head = table.createTHead().insertRow();
  head.append(Object.assign(document.createElement("th"), { scope: "col", textContent: "meant \\ read" }));
  for (let j = 0; j < 10; j++) head.append(Object.assign(document.createElement("th"), { scope: "col", textContent: j }));
  const body = table.createTBody();
  matrix.forEach((row, i) => {
    const tr = body.insertRow();
    tr.append(Object.assign(document.createElement("th"), { scope: "row", textContent: i }));
    row.forEach((n, j) => {
      const td = tr.insertCell();
      if (!n) return;
      td.className = i === j ? "right" : "wrong";
      if (!onCell) { td.textContent = n; return; }
      const b = Object.assign(document.createElement("button"), { type: "button", className: "cell", textContent: n });
      b.setAttribute("aria-label", `${n} drawing${n === 1 ? "" : "s"} meant as ${article(i)} ${i}, read as ${article(j)} ${j}`);
      b.addEventListener("click", () => onCell(i, j));
      td.append(b);
    });
  });
}
