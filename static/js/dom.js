// What every page's modules share about the document: `$`, and the names of what the browser keeps.

export const $ = (selector) => document.querySelector(selector);

// The teacher's token: this tab's sessionStorage only (teacher.js).
export const TEACHER_TOKEN_KEY = "numpy-cnn:teacher-token";
// The class's tuned copy: written by the teacher's view, offered by the main page (networks.js).
export const CLASS_COPY_KEY = "numpy-cnn:class-copy";
