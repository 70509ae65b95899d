// The Programs page: the list (with each program's last execution) and the batch program form.

import { get, post, serverNow } from "./api.js";
import { focusField, formErrorFor } from "./fields.js";
import { DAYS, isoFromLocal, localInputValue, percentDone, statusLabel } from "./format.js";
import { navigate } from "./router.js";

const number = (value) => (value === "" || value == null ? null : Number(value));
const time = (value) => {
  const [hour, minute] = (value || "").split(":").map(Number);
  return value ? { hour, minute } : null;
};

function emptyForm() {
  return {
    name: "", audienceId: "", flowId: "", didPool: [], startAt: "", stopAt: "", timezone: "UTC",
    maxConcurrentCalls: "10", retryType: "none", delayMinutes: "30", maxRetries: "2", retryDates: [""],
    weekly: [], advanced: [], rules: [],
  };
}

let rowSerial = 0;

export function programsPage() {
  return {
    programs: [],
    loaded: false,
    error: "",
    audiences: [],
    flows: [],
    dids: [],
    form: emptyForm(),
    formError: null,
    saving: false,
    days: DAYS,
    statusLabel,
    percentDone,

    async init() {
      document.title = "Programs · Outbound";
      await Promise.all([this.load(), this.loadChoices()]);
    },

    async load() {
      try {
        const programs = await get("/programs?limit=100");
        // Each program's last execution, fetched side by side.
        await Promise.all(programs.map(async (program) => {
          const last = await get(`/programs/${program.id}/executions?limit=1`).catch(() => []);
          program.last = last[0] || null;
        }));
        this.programs = programs;
        this.error = "";
      } catch (error) {
        this.error = error.message;
      }
      this.loaded = true;
    },

    async loadChoices() {
      try {
        const [audiences, flows, dids, now] = await Promise.all([
          get("/audiences?limit=1000"), get("/flows?limit=1000"), get("/dids/available?limit=1000"), serverNow()]);
        this.audiences = audiences;
        this.flows = flows;
        this.dids = dids;
        if (!this.form.startAt) this.form.startAt = localInputValue(now);
      } catch (error) {
        this.error = error.message;
      }
    },

    flowNodes() {
      return this.flows.find((f) => f.id === this.form.flowId)?.nodes || [];
    },

    addWeekly() { this.form.weekly.push({ key: ++rowSerial, day: "monday", start: "12:00", end: "14:00" }); },
    addAdvanced() { this.form.advanced.push({ key: ++rowSerial, start: "", end: "" }); },
    addRule() { this.form.rules.push({ key: ++rowSerial, nodeId: this.flowNodes()[0]?.id || "", threshold: "100", reset: true }); },
    addRetryDate() { this.form.retryDates.push(""); },
    remove(list, index) { list.splice(index, 1); },

    /** The API path of a weekly window row: its index counts the rows of the same day only. */
    weeklyPath(row) {
      const index = this.form.weekly.filter((r) => r.day === row.day).indexOf(row);
      return `pauseWindows.${row.day}[${index}]`;
    },

    body() {
      const f = this.form;
      const body = {
        name: f.name, mode: "batch", audienceId: f.audienceId, flowId: f.flowId,
        startAt: isoFromLocal(f.startAt), didPool: [...f.didPool], timezone: f.timezone || "UTC",
        maxConcurrentCalls: number(f.maxConcurrentCalls),
      };
      if (f.stopAt) body.stopAt = isoFromLocal(f.stopAt);
      if (f.retryType === "fixed_delay") {
        body.retryStrategy = { type: "fixed_delay", delayMinutes: number(f.delayMinutes), maxRetries: number(f.maxRetries) };
      } else if (f.retryType === "scheduled") {
        body.retryStrategy = { type: "scheduled", retryDates: f.retryDates.map(isoFromLocal) };
      } else {
        body.retryStrategy = { type: "none" };
      }
      if (f.weekly.length || f.advanced.length) {
        const windows = {};
        for (const row of f.weekly) {
          (windows[row.day] ||= []).push({ startAt: time(row.start), endAt: time(row.end) });
        }
        if (f.advanced.length) {
          windows.advanced = f.advanced.map((row) => ({ startAt: isoFromLocal(row.start), endAt: isoFromLocal(row.end) }));
        }
        body.pauseWindows = windows;
      }
      if (f.rules.length) {
        body.autoPauseRules = f.rules.map((r) => ({ nodeId: r.nodeId, threshold: number(r.threshold), resetOnResume: r.reset }));
      }
      return body;
    },

    async create(formElement) {
      this.saving = true;
      this.formError = null;
      try {
        const program = await post("/programs", this.body());
        navigate(`/app/programs/${program.id}`);
      } catch (error) {
        this.formError = formErrorFor(error, formElement);
        await this.$nextTick();
        if (this.formError.field) focusField(formElement, this.formError.field);
        else formElement.querySelector(".form-error")?.focus();
      } finally {
        this.saving = false;
      }
    },
  };
}
