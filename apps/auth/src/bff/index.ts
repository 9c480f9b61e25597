export { BFF_PATH, BFF_ROUTES, bffRoutes, type BffDeps, type BffTokenClient, type BffUser } from "./bff-routes.js";
export { DashboardTokenClient, TokenEndpointError, type TokenSet } from "./token-client.js";
