// Helpers the tests of every app share. A fresh database per test file is
// createTestDatabase from @altalune/db/testing (it needs the vitest globalSetup).
export * from "./audit-event-row.js";
export * from "./free-port.js";
export * from "./log-sink.js";
export * from "./manual-clock.js";
export * from "./test-keys.js";
export * from "./users.js";
