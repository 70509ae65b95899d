// Follows GET /api/program-executions/{id}/events, a server-sent-events stream read with fetch()
// (EventSource cannot send the x-api-key header) and parsed by eventsource-parser. A dropped
// stream is opened again with Last-Event-ID, so the server resumes after the last status event.

import { createParser } from "/static/vendor/eventsource-parser/index.js";

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 10000;

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
});

/**
 * handlers: event(name, data) for every event; state(s) with s one of "connecting", "live",
 * "reconnecting", "ended", "unavailable" (the server has no stream: the page polls instead).
 * Returns { close() }.
 */
export function followExecution(executionId, apiKey, handlers) {
  const stop = new AbortController();
  let lastEventId = null;
  let retryMs = FIRST_RETRY_MS;

  async function once() {
    const headers = { "x-api-key": apiKey, accept: "text/event-stream" };
    if (lastEventId) headers["last-event-id"] = lastEventId;
    const response = await fetch(`/api/program-executions/${encodeURIComponent(executionId)}/events`,
      { headers, signal: stop.signal, cache: "no-store" });
    const type = response.headers.get("content-type") || "";
    if (!response.ok || !type.startsWith("text/event-stream")) {
      // No stream for this execution (or none on this server): not worth retrying.
      return response.status >= 500 ? "retry" : "unavailable";
    }
    handlers.state("live");
    retryMs = FIRST_RETRY_MS;
    let ended = false;
    const parser = createParser({
      onEvent(event) {
        if (event.id) lastEventId = event.id;
        let data = null;
        try { data = event.data ? JSON.parse(event.data) : null; } catch { data = event.data; }
        if (event.event === "end") ended = true;
        handlers.event(event.event || "message", data);
      },
      onRetry(ms) { retryMs = Math.min(Math.max(ms, 250), MAX_RETRY_MS); },
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(value);
    }
    return ended ? "ended" : "retry";
  }

  (async () => {
    handlers.state("connecting");
    while (!stop.signal.aborted) {
      let outcome;
      try {
        outcome = await once();
      } catch {
        outcome = "retry";
      }
      if (stop.signal.aborted) return;
      if (outcome !== "retry") {
        handlers.state(outcome);
        return;
      }
      handlers.state("reconnecting");
      await sleep(retryMs, stop.signal);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    }
  })();

  return { close: () => stop.abort() };
}
