import { createApp, h } from "vue";
import { createApi } from "./api.js";
import { App } from "./App.js";
import { Bff } from "./bff.js";
import { ConfigLoadError, parseRuntimeConfig, type RuntimeConfig } from "./config.js";
import { APP_CONTEXT } from "./context.js";
import { Session } from "./session.js";
import "./style.css";

async function loadRuntimeConfig(): Promise<RuntimeConfig> {
  const res = await fetch("/config.json", { cache: "no-store" });
  if (!res.ok) throw new ConfigLoadError(`config.json could not be loaded (HTTP ${res.status})`);
  return parseRuntimeConfig(await res.json(), window.location.origin);
}

async function start(root: HTMLElement): Promise<void> {
  try {
    const config = await loadRuntimeConfig();
    const session = new Session(new Bff(config.bffUrl));
    const app = createApp(App);
    app.provide(APP_CONTEXT, { config, session, api: createApi(config.apiUrl, session) });
    app.mount(root);
  } catch (e) {
    // Without its configuration the app cannot do anything; say which file is wrong.
    createApp({ render: () => h("p", { class: "error", role: "alert" }, e instanceof Error ? e.message : String(e)) }).mount(root);
  }
}

const root = document.getElementById("app");
if (root !== null) void start(root);
