import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { captureLogger, freePort, manualClock, TEST_ENCRYPTION_KEY, TEST_OTHER_ENCRYPTION_KEY } from "./index.js";

describe("test kit", () => {
  it("manualClock moves only when told, both ways", () => {
    const clock = manualClock("2030-01-01T00:00:00Z");
    const { now } = clock;
    expect(now().toISOString()).toBe("2030-01-01T00:00:00.000Z");
    clock.advance(90);
    expect(now().toISOString()).toBe("2030-01-01T00:01:30.000Z");
    clock.advance(-30);
    expect(now().toISOString()).toBe("2030-01-01T00:01:00.000Z");
  });

  it("captureLogger keeps every line at or above its level, redacted like production", () => {
    const log = captureLogger("info");
    log.logger.debug("hidden");
    log.logger.info({ secret: "s3cret", n: 1 }, "shown");
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).not.toContain("s3cret");
    expect(log.records()).toEqual([expect.objectContaining({ msg: "shown", n: 1, secret: "[redacted]" })]);
  });

  it("freePort gives a port that can be listened on", async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("the other key is a valid key that is not the test key", () => {
    expect(TEST_ENCRYPTION_KEY).toHaveLength(32);
    expect(TEST_OTHER_ENCRYPTION_KEY).toHaveLength(32);
    expect(TEST_OTHER_ENCRYPTION_KEY.equals(TEST_ENCRYPTION_KEY)).toBe(false);
  });
});
