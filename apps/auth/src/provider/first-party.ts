import { FIRST_PARTY } from "./client-store.js";

// Extra client metadata keeps its snake_case name on oidc-provider's Client instances.
export const isFirstParty = (client: unknown): boolean => (client as Record<string, unknown> | undefined)?.[FIRST_PARTY] === true;
