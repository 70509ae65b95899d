// The Program page: its settings, its executions and Launch.

import { get, post } from "./api.js";
import { dateTime, percentDone, retryText, statusLabel, windowsText } from "./format.js";
import { navigate } from "./router.js";

export function programPage(programId) {
  return {
    program: null,
    executions: [],
    flowName: "",
    audienceName: "",
    error: "",
    launchError: "",
    launching: false,
    statusLabel,
    dateTime,
    percentDone,
    retryText,
    windowsText,

    async init() {
      try {
        this.program = await get(`/programs/${encodeURIComponent(programId)}`);
        document.title = `${this.program.name} · Outbound`;
        const [executions, flow, audience] = await Promise.all([
          get(`/programs/${programId}/executions?limit=20`),
          get(`/flows/${this.program.flowId}`).catch(() => null),
          get(`/audiences/${this.program.audienceId}`).catch(() => null),
        ]);
        this.executions = executions;
        this.flowName = flow?.name || this.program.flowId;
        this.audienceName = audience?.name || this.program.audienceId;
      } catch (error) {
        this.error = error.message;
      }
    },

    hasActive() {
      return this.executions.some((e) => ["scheduled", "running", "paused", "paused_no_credits", "paused_threshold"].includes(e.status));
    },

    async launch() {
      this.launching = true;
      this.launchError = "";
      try {
        const { executionId } = await post(`/programs/${this.program.id}/launch`);
        navigate(`/app/executions/${executionId}`);
      } catch (error) {
        this.launchError = error.message;
      } finally {
        this.launching = false;
      }
    },
  };
}
