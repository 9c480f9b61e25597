import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { decodeHeaderValue, plainTextOf, splitEntity } from "./mime.js";

export interface ReceivedMail {
  /** Envelope recipient (lower case). */
  to: string;
  /** Envelope sender. */
  from: string;
  /** Decoded Subject header. */
  subject: string;
  /** Decoded text/plain body, line ends normalized to "\n". */
  text: string;
  /** The message as received. */
  raw: string;
}

export interface SmtpReceiver {
  /** smtp://127.0.0.1:<port>, for SMTP_URL. */
  url: string;
  /** Every message received, in order (one entry per envelope recipient). */
  messages: ReceivedMail[];
  /**
   * The oldest message to `to` that no earlier waitFor returned, waiting for it if needed; so
   * consecutive calls return consecutive messages. Rejects after `timeoutMs` (default 5000).
   */
  waitFor(to: string, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

/** An in-process SMTP server on an ephemeral loopback port (no TLS, no auth) for tests. */
export async function startSmtpReceiver(): Promise<SmtpReceiver> {
  const messages: ReceivedMail[] = [];
  const taken = new Set<ReceivedMail>();
  const waiters = new Set<() => void>();

  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    size: 10 * 1024 * 1024,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", callback);
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const { headers } = splitEntity(raw);
        const from = session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address;
        for (const rcpt of session.envelope.rcptTo) {
          messages.push({
            to: rcpt.address.toLowerCase(),
            from,
            subject: decodeHeaderValue(headers.get("subject") ?? ""),
            text: plainTextOf(raw) ?? "",
            raw,
          });
        }
        for (const wake of [...waiters]) wake();
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  // Later errors (a client dropping the connection) must not crash the test process.
  server.on("error", () => {});
  const { port } = server.server.address() as AddressInfo;

  const take = (to: string): ReceivedMail | undefined => {
    const found = messages.find((m) => m.to === to && !taken.has(m));
    if (found) taken.add(found);
    return found;
  };

  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    waitFor(to, timeoutMs = 5000) {
      const address = to.trim().toLowerCase();
      const now = take(address);
      if (now) return Promise.resolve(now);
      return new Promise((resolve, reject) => {
        const wake = () => {
          const m = take(address);
          if (!m) return;
          cleanup();
          resolve(m);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no mail to ${address} within ${timeoutMs} ms (received: ${messages.map((m) => m.to).join(", ") || "none"})`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(wake);
        };
        waiters.add(wake);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
