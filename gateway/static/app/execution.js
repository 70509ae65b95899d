// The live Execution page: counters, charts, pause reason, auto-pause counters, latest calls,
// Pause / Resume / Cancel behind a confirmation dialog, kept current by the execution's event
// stream (polling when the server offers none).

import { del, get, patch, session } from "./api.js";
import { bestField, splitMessage } from "./fields.js";
import {
  ACTIVE, COUNTERS, PAUSED, clockTime, dateTime, duration, pauseReasonText, percentDone, shortTime, statusLabel,
} from "./format.js";
import { followExecution } from "./stream.js";

const STATS_EVERY_MS = 3000; // charts and latest calls, while the execution is active
const POLL_EVERY_MS = 2000; // the execution itself, only when there is no event stream

const OUTCOME_COLORS = {
  answered: "#1b7f3b", no_answer: "#6b7280", busy: "#c2410c", failed: "#b3261e",
  voicemail: "#6d28d9", invalid_number: "#854d0e",
};
const EXTRA_COLORS = ["#0e7490", "#be185d", "#4d7c0f", "#1e3a8a"];

const MAX_BUCKETS = 1440;

/** The API leaves minutes without calls out; the charts show them as zero so time reads evenly. */
function withEmptyBuckets(buckets, seconds) {
  if (buckets.length < 2) return buckets;
  const step = seconds * 1000;
  const first = Date.parse(buckets[0].start);
  const last = Date.parse(buckets[buckets.length - 1].start);
  if ((last - first) / step > MAX_BUCKETS) return buckets;
  const byStart = new Map(buckets.map((b) => [Date.parse(b.start), b]));
  const out = [];
  for (let t = first; t <= last; t += step) {
    out.push(byStart.get(t) || { start: new Date(t).toISOString(), total: 0, outcomes: {} });
  }
  return out;
}

export function executionPage(executionId) {
  // Not reactive: Chart.js objects and timers must stay out of Alpine's proxies.
  const charts = {};
  let stream = null;
  let statsTimer = null;
  let pollTimer = null;
  let soonTimer = null;
  let lastActivity = 0;
  let stopped = false;

  return {
    execution: null,
    program: null,
    nodes: [],
    stats: null,
    calls: [],
    error: "",
    streamState: "connecting",
    dialog: { kind: null, rules: [], busy: false },
    formError: null,
    counters: COUNTERS,
    statusLabel,
    dateTime,
    shortTime,
    duration,

    async init() {
      document.title = "Execution · Outbound";
      try {
        this.apply(await get(`/program-executions/${encodeURIComponent(executionId)}`));
      } catch (error) {
        this.error = error.message;
        return;
      }
      get(`/programs/${this.execution.programId}`).then((p) => {
        this.program = p;
        document.title = `${p.name}: execution · Outbound`;
      }).catch(() => {});
      get(`/flows/${this.execution.flowId}`).then((f) => { this.nodes = f.nodes.map((n) => n.id); }).catch(() => {});
      this.refreshActivity();
      stream = followExecution(executionId, session.key, {
        event: (name, data) => this.onEvent(name, data),
        state: (state) => this.onStreamState(state),
      });
    },

    destroy() {
      stopped = true;
      stream?.close();
      clearTimeout(statsTimer);
      clearTimeout(pollTimer);
      clearTimeout(soonTimer);
      for (const chart of Object.values(charts)) chart.destroy();
    },

    apply(execution) {
      if (!execution || (this.execution && execution.id !== this.execution.id)) return;
      this.execution = execution;
    },

    active() { return ACTIVE.includes(this.execution?.status); },
    paused() { return PAUSED.includes(this.execution?.status); },
    percent() { return percentDone(this.execution); },
    reason() { return pauseReasonText(this.execution); },
    segment(key) {
      const e = this.execution;
      return e && e.totalContacts ? (e[key] * 100) / e.totalContacts : 0;
    },
    progressText() {
      const e = this.execution;
      if (!e) return "";
      return COUNTERS.map((c) => `${c.label} ${e[c.key] ?? 0}`).join(", ") + ` of ${e.totalContacts}`;
    },
    streamText() {
      return {
        connecting: "Connecting to live updates…",
        live: "Live: updates as they happen",
        reconnecting: "Connection lost: reconnecting…",
        ended: "Finished: no more updates",
        unavailable: this.active() ? "Refreshing every few seconds" : "Finished: no more updates",
      }[this.streamState] || "";
    },

    onEvent(name, data) {
      if (name === "status" && data?.execution) this.apply(data.execution);
      else if (name === "counters" && data?.id) this.apply(data);
      if (name === "status" || name === "end") this.refreshActivity();
      else if (name === "counters") this.soonActivity();
      if (name === "end") this.reload();
    },

    onStreamState(state) {
      this.streamState = state;
      if (state === "unavailable") this.poll();
      if (state === "live" || state === "ended") this.reload(); // catch up with what the gap missed
    },

    async reload() {
      try {
        this.apply(await get(`/program-executions/${executionId}`));
        this.error = "";
      } catch (error) {
        this.error = error.message;
      }
    },

    /** Without an event stream: the execution is read again every few seconds while active. */
    async poll() {
      clearTimeout(pollTimer);
      await this.reload();
      if (!stopped && this.active()) pollTimer = setTimeout(() => this.poll(), POLL_EVERY_MS);
      else this.refreshActivity();
    },

    /** Calls ended (counters moved): charts and calls again, but not more often than every
     * STATS_EVERY_MS / 2. */
    soonActivity() {
      const wait = lastActivity + STATS_EVERY_MS / 2 - Date.now();
      if (wait <= 0) this.refreshActivity();
      else if (!soonTimer) soonTimer = setTimeout(() => { soonTimer = null; this.refreshActivity(); }, wait);
    },

    /** Charts and latest calls: now, then every few seconds while the execution is active. */
    async refreshActivity() {
      clearTimeout(statsTimer);
      lastActivity = Date.now();
      const [stats, calls] = await Promise.all([
        get(`/program-executions/${executionId}/call-stats?bucketSeconds=60`).catch(() => null),
        get(`/program-executions/${executionId}/calls?order=newest&limit=20`).catch(() => null),
      ]);
      if (stopped) return;
      if (calls) {
        this.calls = [...calls].sort((a, b) => (b.endedAt || "").localeCompare(a.endedAt || "")).slice(0, 20);
      }
      if (stats && Array.isArray(stats.buckets)) {
        this.stats = stats;
        await this.$nextTick();
        this.drawCharts();
      }
      if (this.active()) statsTimer = setTimeout(() => this.refreshActivity(), STATS_EVERY_MS);
    },

    chartSummary(kind) {
      const buckets = this.stats?.buckets || [];
      const total = buckets.reduce((sum, b) => sum + b.total, 0);
      if (!buckets.length) return kind === "rate" ? "Calls per minute: no calls yet" : "Outcomes over time: no calls yet";
      if (kind === "rate") {
        const peak = Math.max(...buckets.map((b) => b.total));
        return `Calls per minute over ${buckets.length} minutes: ${total} calls, at most ${peak} in one minute`;
      }
      const outcomes = {};
      for (const b of buckets) for (const [o, n] of Object.entries(b.outcomes || {})) outcomes[o] = (outcomes[o] || 0) + n;
      return "Outcomes over time: " + Object.entries(outcomes).sort().map(([o, n]) => `${o} ${n}`).join(", ");
    },

    drawCharts() {
      const Chart = window.Chart;
      if (!Chart || !this.$refs.rate || !this.$refs.outcomes) return;
      const buckets = withEmptyBuckets(this.stats.buckets, this.stats.bucketSeconds || 60);
      const labels = buckets.map((b) => clockTime(b.start));
      const perMinute = 60 / (this.stats.bucketSeconds || 60);
      const outcomeNames = [...new Set(buckets.flatMap((b) => Object.keys(b.outcomes || {})))].sort();
      const color = (name, i) => OUTCOME_COLORS[name] || EXTRA_COLORS[i % EXTRA_COLORS.length];
      const rate = [{ label: "Calls per minute", data: buckets.map((b) => b.total * perMinute),
        borderColor: "#1d4ed8", backgroundColor: "rgba(29, 78, 216, 0.15)", fill: true, tension: 0 }];
      const outcomes = outcomeNames.map((name, i) => ({ label: name, data: buckets.map((b) => b.outcomes?.[name] || 0),
        backgroundColor: color(name, i) }));
      const common = { animation: false, responsive: true, maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } };
      if (!charts.rate) {
        charts.rate = new Chart(this.$refs.rate, { type: "line", data: { labels, datasets: rate },
          options: { ...common, plugins: { legend: { display: false } } } });
        charts.outcomes = new Chart(this.$refs.outcomes, { type: "bar", data: { labels, datasets: outcomes },
          options: { ...common, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } } });
        return;
      }
      charts.rate.data.labels = labels;
      charts.rate.data.datasets[0].data = rate[0].data;
      charts.rate.update("none");
      charts.outcomes.data.labels = labels;
      charts.outcomes.data.datasets = outcomes;
      charts.outcomes.update("none");
    },

    // ---- Pause / Resume / Cancel, each behind the confirmation dialog

    ask(kind) {
      const rules = this.execution.autoPauseRules || [];
      this.dialog = { kind, busy: false, rules: rules.map((r) => ({ ...r, threshold: String(r.threshold) })) };
      this.formError = null;
      this.$refs.dialog.showModal();
    },

    close() {
      this.$refs.dialog.close();
    },

    onDialogClosed() {
      this.dialog = { kind: null, rules: [], busy: false };
      this.formError = null;
    },

    addRule() { this.dialog.rules.push({ nodeId: this.nodes[0] || "", threshold: "100", resetOnResume: true }); },
    removeRule(index) { this.dialog.rules.splice(index, 1); },

    rulesChanged() {
      const asSent = (rules) => JSON.stringify(rules.map((r) => [r.nodeId, Number(r.threshold), Boolean(r.resetOnResume)]));
      return asSent(this.dialog.rules) !== asSent(this.execution.autoPauseRules || []);
    },

    async confirm() {
      const path = `/program-executions/${executionId}`;
      this.dialog.busy = true;
      this.formError = null;
      try {
        if (this.dialog.kind === "pause") this.apply(await patch(`${path}/pause`));
        else if (this.dialog.kind === "cancel") await del(path);
        else if (this.dialog.kind === "resume") {
          // The rules are sent only when edited: an unchanged list keeps the counters' rules as they are.
          const body = this.rulesChanged() ? { autoPauseRules: this.dialog.rules.map((r) => ({
            nodeId: r.nodeId, threshold: r.threshold === "" ? null : Number(r.threshold), resetOnResume: Boolean(r.resetOnResume),
          })) } : undefined;
          this.apply(await patch(`${path}/resume`, body));
        }
        this.close();
        await this.reload();
        this.refreshActivity();
      } catch (error) {
        const form = this.$refs.dialogForm;
        const fields = [...form.querySelectorAll("[data-field]")].map((el) => el.dataset.field);
        this.formError = { field: bestField(splitMessage(error.message).path, fields), message: error.message };
        this.dialog.busy = false;
      }
    },
  };
}
