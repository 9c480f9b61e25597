import { Writable } from "node:stream";
import { createLogger, type Logger } from "@altalune/core";

type Level = Parameters<typeof createLogger>[0]["level"];

export interface CapturedLog {
  /** A real logger (redaction and all) that writes into `lines`. */
  logger: Logger;
  /** Every line written so far, as written (JSON and a newline). */
  lines: string[];
  /** The lines so far, parsed. */
  records(): Array<Record<string, unknown>>;
}

/** A logger whose output the test reads: to find a line, or to prove a secret is in none. */
export function captureLogger(level: Level = "info"): CapturedLog {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return {
    logger: createLogger({ level, destination }),
    lines,
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
