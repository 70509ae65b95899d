// How values read on the page.

export const ACTIVE = ["scheduled", "running", "paused", "paused_no_credits", "paused_threshold"];
export const PAUSED = ["paused", "paused_no_credits", "paused_threshold"];

export const COUNTERS = [
  { key: "contactsCompleted", label: "Completed", css: "completed" },
  { key: "contactsFailed", label: "Failed", css: "failed" },
  { key: "contactsInProgress", label: "In progress", css: "in-progress" },
  { key: "contactsPending", label: "Pending", css: "pending" },
  { key: "contactsSkipped", label: "Skipped", css: "skipped" },
];

const STATUS = {
  scheduled: "Scheduled",
  running: "Running",
  paused: "Paused",
  paused_no_credits: "Paused (out of credits)",
  paused_threshold: "Paused (auto-pause rule)",
  completed: "Completed",
  stopped: "Stopped",
  cancelled: "Cancelled",
  draft: "Draft",
  active: "Active",
  archived: "Archived",
};

export const statusLabel = (status) => STATUS[status] || status || "";

/** Contacts done with (completed, failed or skipped) out of the total, in whole percent, rounded
 * down so 100 % means every contact is done. */
export function percentDone(execution) {
  if (!execution || !execution.totalContacts) return execution && !ACTIVE.includes(execution.status) ? 100 : 0;
  const done = execution.contactsCompleted + execution.contactsFailed + (execution.contactsSkipped || 0);
  return Math.floor((done * 100) / execution.totalContacts);
}

export function dateTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/** Time of day (with seconds) for today, date and time otherwise: short enough for a phone. */
export function shortTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (date.toDateString() !== new Date().toDateString()) return dateTime(iso);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function clockTime(iso) {
  const date = new Date(iso);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function duration(seconds) {
  if (seconds == null) return "";
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return m ? `${m} min ${String(s).padStart(2, "0")} s` : `${s} s`;
}

/** Why an execution is not calling: its pauseReason, or the pause window holding it. */
export function pauseReasonText(execution) {
  const reason = execution?.pauseReason;
  const until = (iso) => (iso ? ` until ${dateTime(iso)}` : "");
  if (reason) {
    if (reason.kind === "threshold" && reason.rule) {
      const r = reason.rule;
      return `Auto-pause rule on node “${r.nodeId}” reached ${r.count} of ${r.threshold}${until(reason.until)}.`;
    }
    if (reason.kind === "threshold") return `An auto-pause rule reached its threshold${until(reason.until)}.`;
    if (reason.kind === "credits") return `The organization's credits cannot cover the next call${until(reason.until)}.`;
    if (reason.kind === "manual") return `Paused by a user${until(reason.until)}.`;
    return `Paused (${reason.kind})${until(reason.until)}.`;
  }
  const held = execution?.heldBy;
  if (held && held.kind === "pause_window") return `Held by a pause window${until(held.until)}.`;
  if (held) return `Held (${held.kind})${until(held.until)}.`;
  return "";
}

/** A datetime-local input's value for an instant, in the browser's time zone. */
export function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** The ISO instant of a datetime-local input's value ("" stays "": the API names the field). */
export function isoFromLocal(value) {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

export function retryText(strategy) {
  if (!strategy) return "";
  if (strategy.type === "none") return "No retries";
  if (strategy.type === "fixed_delay") {
    return `${strategy.maxRetries} retries, ${strategy.delayMinutes} minutes apart` +
      (strategy.retryOn ? ` (on ${strategy.retryOn.join(", ")})` : "");
  }
  return `Retries at ${strategy.retryDates.map(dateTime).join(", ")}`;
}

export const DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const pad2 = (n) => String(n).padStart(2, "0");
export const hhmm = (t) => `${pad2(t.hour)}:${pad2(t.minute)}`;

export function windowsText(windows) {
  if (!windows) return [];
  const out = [];
  for (const day of DAYS) {
    for (const w of windows[day] || []) out.push(`${day[0].toUpperCase()}${day.slice(1)} ${hhmm(w.startAt)}–${hhmm(w.endAt)}`);
  }
  for (const w of windows.advanced || []) out.push(`${dateTime(w.startAt)} – ${dateTime(w.endAt)}`);
  return out;
}
