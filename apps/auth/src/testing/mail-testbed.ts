import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { SmtpMailer } from "../mail/mailer.js";
import { startSmtpReceiver, type SmtpReceiver } from "../mail/testing.js";

/** What a test of a service that mails users needs: its own database, a real SMTP receiver and a mailer sending to it. */
export interface MailTestbed {
  db: TestDatabase;
  smtp: SmtpReceiver;
  mailer: SmtpMailer;
  /** Closes the mailer and the receiver, then drops the database. */
  close(): Promise<void>;
}

export async function startMailTestbed(opts: { max: number }): Promise<MailTestbed> {
  const db = await createTestDatabase({ max: opts.max });
  const smtp = await startSmtpReceiver();
  const mailer = new SmtpMailer(smtp.url, "Authalune <auth@example.test>");
  return {
    db,
    smtp,
    mailer,
    async close() {
      await mailer.close();
      await smtp.close();
      await db.drop();
    },
  };
}
