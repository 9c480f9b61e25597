import { shallowRef } from "vue";

// A small history router: the app has a handful of pages, and a table of patterns reads better
// than a router dependency's configuration.

export type Route =
  | { name: "signin"; expired: boolean; returnTo: string }
  | { name: "callback" }
  | { name: "projects" }
  | { name: "employees"; projectId: string }
  | { name: "apiKeys"; projectId: string }
  | { name: "me" }
  | { name: "notFound" };

export function parseRoute(path: string, search: string): Route {
  const params = new URLSearchParams(search);
  if (path === "/" || path === "/projects") return { name: "projects" };
  if (path === "/signin") {
    const returnTo = params.get("returnTo") ?? "/projects";
    // Only an in-app path: a sign-in link must not be able to send the person elsewhere.
    const safe = returnTo.startsWith("/") && !returnTo.startsWith("//") && !returnTo.startsWith("/\\");
    return { name: "signin", expired: params.get("expired") === "1", returnTo: safe ? returnTo : "/projects" };
  }
  if (path === "/auth/callback") return { name: "callback" };
  if (path === "/me") return { name: "me" };
  const project = /^\/projects\/([A-Za-z0-9_-]{1,64})\/(employees|api-keys)$/.exec(path);
  if (project) return project[2] === "employees" ? { name: "employees", projectId: project[1]! } : { name: "apiKeys", projectId: project[1]! };
  return { name: "notFound" };
}

const current = () => parseRoute(window.location.pathname, window.location.search);

export const route = shallowRef<Route>(current());

window.addEventListener("popstate", () => {
  route.value = current();
});

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  route.value = current();
}

/** The in-app location to come back to after signing in. */
export function here(): string {
  return window.location.pathname + window.location.search;
}
