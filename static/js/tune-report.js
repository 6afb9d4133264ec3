// The fine-tune's report in words a class can follow: how many of the class's drawings the network never
// trained on each network reads right, before -> after, the same for MNIST's 1,000 test images, and the
// drawings whose answer changed, as pictures (teacher.js tells of each answer: "teacher:tuned").
import { $ } from "./dom.js";
import { article } from "./format.js";
import { pictureOf } from "./render.js";

const count = (share, of) => Math.round(share * of);
const n = (x) => x.toLocaleString("en");

export function report(answer) {
  const held = answer.held_out;
  const classBefore = count(answer.before.class ?? 0, held), classAfter = count(answer.after.class ?? 0, held);
  const mnistBefore = count(answer.before.mnist, 1000), mnistAfter = count(answer.after.mnist, 1000);
  $("#report-class").textContent = held
    ? `Of your ${n(held)} drawings it never practised on, the shared network reads ${n(classBefore)} right; the copy reads ${n(classAfter)}.`
    : "None of your drawings was kept aside to test the copy yet: save a few more.";
  $("#report-mnist").textContent =
    `On MNIST's 1,000 test digits: the shared network ${n(mnistBefore)} right, the copy ${n(mnistAfter)}.`;
  const better = answer.changed.filter((c) => c.after === c.label).length;
  const worse = answer.changed.filter((c) => c.before === c.label).length;
  $("#report-changed").textContent = answer.changed.length
    ? `The copy reads ${answer.changed.length} of your drawings differently: ${better} now right, ${worse} now wrong.`
    : "The copy reads every one of your test drawings as the shared network does.";
  $("#changed").replaceChildren(...answer.changed.map((c) => {
    const li = document.createElement("li");
    li.className = c.after === c.label ? "better" : "worse";
    const words = Object.assign(document.createElement("p"), { textContent: `meant ${c.label}: ${c.before} → ${c.after}` });
    li.append(pictureOf(c.pixels, `a drawing meant as ${article(c.label)} ${c.label}`), words);
    return li;
  }));
  $("#tune-report").hidden = false;
}

document.addEventListener("teacher:tuned", (e) => report(e.detail));
