// What other workspaces' tests use of the auth server's test helpers (package export "./testing").
export * from "./auth-harness.js";
export * from "./browser.js";
export * from "./login-flow.js";
export { startSmtpReceiver, type SmtpReceiver } from "../mail/testing.js";
// The claims a fresh access token of a user would carry: tests of the Resources API compare
// what a caller holds before and after, by the auth server's own claim builder.
export { loadAuthorization, type Authorization } from "../provider/accounts.js";
