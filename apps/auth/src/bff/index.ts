export { bffRoutes } from "./bff-routes.js";
export { BFF_PATH, BFF_ROUTES, type BffDeps, type BffTokenClient } from "./deps.js";
export type { BffUser } from "./bff-user.js";
export { DashboardTokenClient, TokenEndpointError, type TokenSet } from "./token-client.js";
