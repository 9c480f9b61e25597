import { appendFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { createTransport, type Transporter } from "nodemailer";
import { ConfigError, type Config, type Logger } from "@altalune/core";

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

export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(url: string, from: string) {
    // Bounded waits: a stalled SMTP server must not hold a login request (or shutdown) for the
    // library's default two minutes.
    this.transport = createTransport(
      { url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 },
      { from },
    );
  }

  async send(msg: MailMessage): Promise<void> {
    await this.transport.sendMail({ to: msg.to, subject: msg.subject, text: msg.text, html: msg.html });
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
