// One way to write a number, everywhere on the page: the hover label, the equation panel and the
// tour show the same digits for the same value.

// float32 keeps about 7 significant digits, so a gradient below ~1e-6 of the numbers it was made
// from is rounding, not signal: when the network is already sure (L close to 0), O - y is of that
// size and every gradient after it too. Such values are written "≈ 0" and painted as 0.
export const FLOAT32_NOISE = 2 ** -20;  // ≈ 9.5e-7

// 7 significant digits (what float32 holds, so that O = 0.9999993 does not read as 1); scientific
// notation for the very small and the very large.
export function num(x, digits = 7) {
  if (x === 0) return "0";
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a < 1e-4 || a >= 1e6) return x.toExponential(digits - 1).replace(/\.?0+e/, "e");
  return String(Number(x.toPrecision(digits)));
}

// A gradient's value, or "≈ 0" where it is below float32's noise.
export const gradientText = (x) => (x !== 0 && Math.abs(x) < FLOAT32_NOISE ? `≈ 0 (${num(x, 2)})` : num(x));

// "S1[2, 10, 12]"
export const cellText = (name, index) => (index.length ? `${name}[${index.join(", ")}]` : name);

// a shape [n, h, w] -> "n × h × w"; [] -> "one number"
export const shapeText = (shape) => (shape.length ? shape.join(" × ") : "one number");

// "a 3", "an 8": the article before a digit's name.
export const article = (d) => (d === 8 ? "an" : "a");
