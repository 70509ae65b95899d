// The dashboard's entry: sign-in, routing, and the page components (Alpine.js).

import { api, session } from "./api.js";
import { executionPage } from "./execution.js";
import { fieldDirective } from "./fields.js";
import { livePage } from "./live.js";
import { programPage } from "./program.js";
import { programsPage } from "./programs.js";
import { interceptLinks, navigate, onRoute, parseRoute } from "./router.js";

function shell() {
  return {
    signedIn: Boolean(session.key),
    route: parseRoute(location.pathname),
    keyInput: "",
    signInError: "",
    signingIn: false,

    init() {
      onRoute(async (route) => {
        // A blank step first, so a page shown again (another program) starts afresh.
        this.route = { name: "blank" };
        await this.$nextTick();
        this.route = route;
        await this.$nextTick();
        document.getElementById("main")?.focus({ preventScroll: false });
      });
      window.addEventListener("outbound:unauthorized", () => {
        this.signOut("Your API key is no longer accepted. Sign in again.");
      });
      if (location.pathname === "/") navigate("/app/", { replace: true });
    },

    async signIn() {
      const key = this.keyInput.trim();
      if (!key) {
        this.signInError = "Enter an API key.";
        return;
      }
      this.signingIn = true;
      this.signInError = "";
      try {
        await api("GET", "/programs?limit=1", undefined, key);
        session.set(key);
        this.keyInput = "";
        this.signedIn = true;
        navigate(location.pathname === "/" ? "/app/" : location.pathname, { replace: true });
      } catch (error) {
        this.signInError = error.status === 401
          ? "This API key was not accepted. Check it and try again."
          : `Could not sign in: ${error.message}`;
        await this.$nextTick();
        document.getElementById("api-key")?.focus();
      } finally {
        this.signingIn = false;
      }
    },

    signOut(reason = "") {
      session.clear();
      this.signedIn = false;
      this.signInError = reason;
    },

    isCurrent(name) {
      return this.route.name === name || (name === "programs" && this.route.name === "program");
    },
  };
}

function register(Alpine) {
  Alpine.directive("field", fieldDirective);
  Alpine.data("shell", shell);
  Alpine.data("programsPage", programsPage);
  Alpine.data("programPage", programPage);
  Alpine.data("executionPage", executionPage);
  Alpine.data("livePage", livePage);
}

interceptLinks();
if (window.Alpine) register(window.Alpine);
else document.addEventListener("alpine:init", () => register(window.Alpine));
