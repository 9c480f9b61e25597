export { ACCOUNT_PATHS, accountRoutes, type AccountDeps } from "./routes.js";
export { NAME_MAX_CHARS, NAME_TOO_LONG, parseNames } from "./profile-input.js";
export { endLoginSession, signedIn, type SignedIn } from "./account-session.js";
