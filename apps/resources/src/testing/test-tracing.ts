import { startTracing, type TracingHandle } from "@altalune/core";
import { startOtlpReceiver, type OtlpReceiver, type OtlpSpan } from "./otlp-receiver.js";

export interface TestTracing {
  receiver: OtlpReceiver;
  tracing: TracingHandle;
  /** The spans of one trace, after flushing the exporter. */
  spansOf(traceId: string): Promise<OtlpSpan[]>;
  /** Shuts tracing down, unsets OTEL_EXPORTER_OTLP_ENDPOINT and closes the receiver. */
  close(): Promise<void>;
}

/**
 * Tracing on for this test file, exporting to a real OTLP/HTTP receiver on an ephemeral port,
 * configured only by OTEL_EXPORTER_OTLP_ENDPOINT, as in production.
 */
export async function startTestTracing(serviceName: string): Promise<TestTracing> {
  const receiver = await startOtlpReceiver();
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  const closeReceiver = async () => {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    await receiver.close();
  };
  const tracing = await startTracing({ serviceName }).catch(async (e: unknown) => {
    await closeReceiver();
    throw e;
  });
  return {
    receiver,
    tracing,
    async spansOf(traceId) {
      await tracing.flush();
      return receiver.spans.filter((s) => s.traceId === traceId);
    },
    async close() {
      await tracing.shutdown();
      await closeReceiver();
    },
  };
}
