import { inject, type InjectionKey } from "vue";
import type { Api } from "./api.js";
import type { RuntimeConfig } from "./config.js";
import type { Session } from "./session.js";

export interface AppContext {
  config: RuntimeConfig;
  session: Session;
  api: Api;
}

export const APP_CONTEXT: InjectionKey<AppContext> = Symbol("altalune.app");

export function useApp(): AppContext {
  const ctx = inject(APP_CONTEXT);
  if (ctx === undefined) throw new Error("useApp() outside the app");
  return ctx;
}
