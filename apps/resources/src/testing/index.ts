// What other workspaces' tests use (`@altalune/resources/testing`): a Resources API on a fresh
// database, error details of a refused call, a TCP proxy to cut connections, trace capture.
export { startTestApi, TEST_ENV, type TestApi, type TransportName } from "./api-harness.js";
export { callError, detailOf } from "./errors.js";
export { TcpProxy } from "./tcp-proxy.js";
export { newTraceparent, spanAttribute, type OtlpReceiver, type OtlpSpan } from "./otlp-receiver.js";
export { startTestTracing, type TestTracing } from "./test-tracing.js";
// Access tokens a Resources API trusts without an auth server; a PostgreSQL the caller can stop.
export { TestIssuer, type TokenSpec } from "./test-issuer.js";
export { startRestartablePostgres, type RestartablePostgres } from "./restartable-postgres.js";
// The `altalune` command as real processes on real ports (tests of several replicas).
export { dataDir, READY, runCli, startServerProcess, type ServerProcess } from "./cli-process.js";
// Internals that tests and benchmarks outside this app drive directly: the registered domains'
// services, the IAM seed, the permissions an API key may carry, the authorization step and the
// user-state cache.
export { DOMAIN_SERVICES } from "../domains.js";
export { seedIam } from "../domains/iam/index.js";
export { API_KEY_PERMISSIONS, createAuthorizer } from "../auth/authorizer.js";
export { USER_STATE_TTL_MS, UserStateCache } from "../auth/user-state.js";
