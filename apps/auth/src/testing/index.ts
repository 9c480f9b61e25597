// What other workspaces' tests use of the auth server's test helpers (package export "./testing").
export * from "./auth-harness.js";
export * from "./browser.js";
export * from "./login-flow.js";
export { startSmtpReceiver, type SmtpReceiver } from "../mail/testing.js";
