// The Live programs page: each live program's pending triggers per day, i.e. how many contacts
// it will call on each of the coming days (GET /api/programs/{id}/upcoming-triggers).

import { get } from "./api.js";
import { statusLabel } from "./format.js";

const DAYS_SHOWN = 14;

export function livePage() {
  return {
    programs: [],
    loaded: false,
    error: "",
    statusLabel,

    async init() {
      document.title = "Live programs · Outbound";
      try {
        const programs = (await get("/programs?limit=1000")).filter((p) => p.mode === "live");
        await Promise.all(programs.map(async (program) => {
          const [upcoming, last] = await Promise.all([
            get(`/programs/${program.id}/upcoming-triggers?days=${DAYS_SHOWN}`).catch((e) => ({ error: e.message })),
            get(`/programs/${program.id}/executions?limit=1`).catch(() => []),
          ]);
          program.upcoming = upcoming;
          program.last = last[0] || null;
        }));
        this.programs = programs;
      } catch (error) {
        this.error = error.message;
      }
      this.loaded = true;
    },

    dayLabel(isoDate) {
      const [y, m, d] = isoDate.split("-").map(Number);
      return new Date(y, m - 1, d).toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" });
    },

    total(program) {
      return (program.upcoming?.days || []).reduce((sum, day) => sum + day.count, 0);
    },
  };
}
