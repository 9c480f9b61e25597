import { appendFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { createTransport, type Transporter } from "nodemailer";
import { ConfigError, inClientSpan, type Attributes, type Config, type Logger } from "@altalune/core";

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  send(msg: MailMessage): Promise<void>;
  close?(): Promise<void>;
}

/**
 * SMTP when SMTP_URL is set. Without it, development and tests get a mailer that writes each
 * message to the log and to `<DATA_DIR>/mail.log` (the one place a login code or link is
 * written out: there is nobody else to read it), and production refuses to start, because
 * nobody could ever log in.
 */
export function createMailer(config: Config, logger: Logger): Mailer {
  if (config.mail.smtpUrl !== undefined) return new SmtpMailer(config.mail.smtpUrl, config.mail.from);
  if (config.production) {
    throw new ConfigError(["SMTP_URL: required in production (login codes and verification links are sent by email)"]);
  }
  return new DevMailer(join(config.dataDir, "mail.log"), config.mail.from, logger);
}

/** The SMTP reply code at the start of a server's answer (`250 OK: queued`), if any. */
function replyCode(response: unknown): number | undefined {
  const m = typeof response === "string" ? /^([2-5]\d\d)\b/.exec(response) : null;
  return m ? Number(m[1]) : undefined;
}

export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;
  /** The send span's attributes: where to, never who to or what (no addresses, no subject: it can carry a code). */
  private readonly spanAttributes: Attributes;

  constructor(url: string, from: string) {
    // Only the host and port of the URL (it may carry credentials). nodemailer's default ports:
    // 465 for smtps (TLS from the start), else 587.
    const server = URL.canParse(url) ? new URL(url) : undefined;
    this.spanAttributes = {
      "network.protocol.name": "smtp",
      ...(server === undefined
        ? {}
        : { "server.address": server.hostname, "server.port": server.port === "" ? (server.protocol === "smtps:" ? 465 : 587) : Number(server.port) }),
    };
    // Bounded waits: a stalled SMTP server must not hold a login request (or shutdown) for the
    // library's default two minutes.
    this.transport = createTransport(
      { url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 },
      { from },
    );
  }

  send(msg: MailMessage): Promise<void> {
    // A CLIENT span (in the request that sends the mail, when there is one); a refusal is marked
    // with nodemailer's code (ESOCKET, EENVELOPE…) and the server's reply code.
    return inClientSpan("SMTP send", this.spanAttributes, async (span) => {
      try {
        const info = (await this.transport.sendMail({ to: msg.to, subject: msg.subject, text: msg.text, html: msg.html })) as { response?: unknown };
        const code = replyCode(info.response);
        if (code !== undefined) span.setAttribute("altalune.smtp.reply_code", code);
      } catch (e) {
        const code = typeof e === "object" && e !== null ? (e as { responseCode?: unknown }).responseCode : undefined;
        if (typeof code === "number") span.setAttribute("altalune.smtp.reply_code", code);
        throw e;
      }
    });
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

export class DevMailer implements Mailer {
  constructor(
    readonly path: string,
    private readonly from: string,
    private readonly logger: Logger,
  ) {}

  async send(msg: MailMessage): Promise<void> {
    // Deliberately outside the redacted fields: reading the code here is the point of this mailer.
    this.logger.info({ mail: { to: msg.to, subject: msg.subject, body: msg.text } }, `mail (not sent, no SMTP_URL): ${msg.subject}`);
    const entry = [
      `=== ${new Date().toISOString()}`,
      `From: ${this.from}`,
      `To: ${msg.to}`,
      `Subject: ${msg.subject}`,
      "",
      msg.text.trimEnd(),
      "",
      "",
    ].join("\n");
    await mkdir(join(this.path, ".."), { recursive: true });
    await appendFile(this.path, entry, { mode: 0o600 });
  }
}
