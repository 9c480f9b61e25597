// What other workspaces' tests use (`@altalune/resources/testing`): a Resources API on a fresh
// database, error details of a refused call, a TCP proxy to cut connections, trace capture.
export { startTestApi, TEST_ENV, type TestApi, type TransportName } from "./api-harness.js";
export { callError, detailOf } from "./errors.js";
export { TcpProxy } from "./tcp-proxy.js";
export { newTraceparent, spanAttribute, type OtlpReceiver, type OtlpSpan } from "./otlp-receiver.js";
export { startTestTracing, type TestTracing } from "./test-tracing.js";
