// History routing: /app/ (programs), /app/programs/{id}, /app/executions/{id}, /app/live.
// The gateway answers every /app/... path with index.html, so each of these is a deep link.

export function parseRoute(pathname) {
  let found;
  if ((found = /^\/app\/programs\/([^/]+)\/?$/.exec(pathname))) return { name: "program", id: decodeURIComponent(found[1]) };
  if ((found = /^\/app\/executions\/([^/]+)\/?$/.exec(pathname))) return { name: "execution", id: decodeURIComponent(found[1]) };
  if (/^\/app\/live\/?$/.test(pathname)) return { name: "live" };
  if (/^\/(app\/?(programs\/?)?)?$/.test(pathname)) return { name: "programs" };
  return { name: "notfound" };
}

let show = () => {};

/** The shell's way to show a route; set once at start. */
export function onRoute(callback) {
  show = callback;
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  show(parseRoute(location.pathname));
}

/** Same-origin links to /app/... are followed without reloading the page. */
export function interceptLinks() {
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || !(url.pathname === "/" || url.pathname.startsWith("/app"))) return;
    event.preventDefault();
    navigate(url.pathname);
  });
  window.addEventListener("popstate", () => show(parseRoute(location.pathname)));
}
