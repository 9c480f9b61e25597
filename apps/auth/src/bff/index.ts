export { BFF_PATH, bffRoutes, type BffDeps, type BffTokenClient, type BffUser } from "./bff-routes.js";
export { DashboardTokenClient, TokenEndpointError, type TokenSet } from "./token-client.js";
