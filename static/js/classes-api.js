// The classes' endpoints (app/classes/): their URLs and the shape of their JSON, over http.js.
// The teacher's requests carry the token as Authorization: Bearer, never in a URL: so the teacher's
// live board reads its Server-Sent Events with fetch (EventSource cannot send a header), and a
// phone, which needs no token, with EventSource.

import { open, request as send } from "./http.js";

const at = (code) => `/classes/${encodeURIComponent(code)}`;

// -> { code, name, state, join_url, join_urls, created_at, drawings, network }
export const openClass = (token, name) => send("/classes", { token, method: "POST", json: { name } });
export const listClasses = (token) => send("/classes", { token });
export const changeClass = (token, code, change) => send(at(code), { token, method: "PATCH", json: change });
export const deleteClass = (token, code) => send(at(code), { token, method: "DELETE" });
// anyone's: -> { code, name, state, network: null | { sha256, drawings, published_at } }
export const publicClass = (code) => send(at(code));
export const qrAddress = (code) => `${at(code)}/qr.svg`;
// -> { params, sha256, drawings, published_at, calibration: null | { temperature, unsure_below } }
export const classNetwork = (code) => send(`${at(code)}/network`);
export const publishNetwork = (token, code, params, drawings, calibration = null) =>
  send(`${at(code)}/network`, { token, method: "PUT", json: { params, drawings, ...(calibration ? { calibration } : {}) } });
export const takeBackNetwork = (token, code) => send(`${at(code)}/network`, { token, method: "DELETE" });

// A phone's events (state, network): EventSource reconnects by itself, with Last-Event-ID.
export function phoneEvents(code, on) {
  const source = new EventSource(`${at(code)}/events`);
  for (const kind of ["hello", "state", "network"]) {
    source.addEventListener(kind, (e) => on(kind, JSON.parse(e.data)));
  }
  source.onerror = () => on("offline", {});
  return source;
}

// The teacher's board: the same stream read with fetch, reconnecting with Last-Event-ID after a second,
// so nothing is missed; `from`, an id to start after (the newest drawing the board already shows, "<id>-0").
// on(kind, data) for each event; returns stop().
export function boardEvents(token, code, on, from = null) {
  let last = from, stopped = false, controller = null;
  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const headers = last ? { Accept: "text/event-stream", "Last-Event-ID": last } : { Accept: "text/event-stream" };
        const response = await open(`${at(code)}/events`, { token, headers, signal: controller.signal });
        if (!response.ok) {
          on("offline", { status: response.status });
          if (response.status === 404 || response.status === 401) return;
        } else {
          on("online", {});
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            let end;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              const frame = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const fields = {};
              for (const line of frame.split("\n")) {
                const colon = line.indexOf(":");
                if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, "");
              }
              if (fields.id) last = fields.id;
              if (fields.event && fields.data) on(fields.event, JSON.parse(fields.data));
            }
          }
          on("offline", {});
        }
      } catch {
        if (stopped) return;
        on("offline", {});
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  run();
  return () => { stopped = true; controller?.abort(); };
}
