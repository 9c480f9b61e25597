import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTransport } from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "@altalune/core";
import { captureLogger, TEST_ENCRYPTION_KEY } from "@altalune/test-kit";
import { createMailer, DevMailer, SmtpMailer } from "./mailer.js";
import { decodeHeaderValue, plainTextOf } from "./mime.js";
import { loginCodeMail, verificationMail } from "./templates.js";
import { startSmtpReceiver, type SmtpReceiver } from "./testing.js";

let receiver: SmtpReceiver;
beforeAll(async () => {
  receiver = await startSmtpReceiver();
});
afterAll(async () => {
  await receiver?.close();
});

describe("createMailer", () => {
  it("sends over SMTP when SMTP_URL is set; the receiver decodes subject and text", async () => {
    const config = loadConfig({ NODE_ENV: "test", SMTP_URL: receiver.url, MAIL_FROM: "Authalune <auth@example.test>" });
    const mailer = createMailer(config, captureLogger().logger);
    expect(mailer).toBeInstanceOf(SmtpMailer);
    // Non-ASCII brand and name: nodemailer encodes the subject (RFC 2047) and the body.
    const mail = loginCodeMail({ brand: "Ålto Ünïcode 🚀", name: "Zoë <admin>", code: "048213", expiresMinutes: 5 });
    await mailer.send({ to: "Zoe@Example.test", ...mail });
    await mailer.close?.();
    const got = await receiver.waitFor("zoe@example.test");
    expect(got.from).toBe("auth@example.test");
    expect(got.subject).toBe("Your Ålto Ünïcode 🚀 login code");
    expect(got.raw).not.toContain("Ålto Ünïcode 🚀 login code"); // it really was encoded on the wire
    expect(got.text).toContain("Hello Zoë <admin>,");
    expect(got.text.match(/\b\d{6}\b/)?.[0]).toBe("048213");
    expect(got.raw).toContain("multipart/alternative");
  });

  it("writes to the log and <DATA_DIR>/mail.log without SMTP_URL outside production", async () => {
    const dir = await mkdtemp(join(tmpdir(), "altalune-mail-"));
    try {
      const { logger, lines } = captureLogger();
      const mailer = createMailer(loadConfig({ NODE_ENV: "development", DATA_DIR: join(dir, "data") }), logger);
      expect(mailer).toBeInstanceOf(DevMailer);
      const link = "http://127.0.0.1:3300/verify-email?token=abc_DEF-123";
      await mailer.send({ to: "ada@example.com", ...verificationMail({ brand: "Authalune", name: "Ada", link, expiresHours: 24 }) });
      await mailer.send({ to: "bob@example.com", ...loginCodeMail({ brand: "Authalune", name: "Bob", code: "111222", expiresMinutes: 5 }) });
      const file = await readFile(join(dir, "data", "mail.log"), "utf8");
      expect(file).toContain("To: ada@example.com");
      expect(file).toContain(link);
      expect(file).toContain("To: bob@example.com");
      expect(file).toContain("111222");
      expect((await stat(join(dir, "data", "mail.log"))).mode & 0o077).toBe(0);
      expect(lines.join("")).toContain("111222");
      expect(lines.join("")).toContain("Verify your email address for Authalune");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses production without SMTP_URL", () => {
    const config = loadConfig({
      NODE_ENV: "production",
      DATABASE_URL: "postgres://u:p@db/altalune",
      SUPERADMIN_EMAIL: "root@example.com",
      AUTH_ISSUER: "https://auth.example.com",
      ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString("base64"),
    });
    expect(() => createMailer(config, captureLogger().logger)).toThrow(ConfigError);
    expect(() => createMailer(config, captureLogger().logger)).toThrow(/SMTP_URL: required in production/);
    expect(createMailer({ ...config, mail: { ...config.mail, smtpUrl: receiver.url } }, captureLogger().logger)).toBeInstanceOf(SmtpMailer);
  });
});

describe("the receiver's MIME decoding, against nodemailer", () => {
  const text = "Grüße aus Köln — ünïcödé ✓\nline two with a long tail ".padEnd(200, "x") + "\nend";
  for (const textEncoding of ["quoted-printable", "base64"] as const) {
    it(`decodes a ${textEncoding} text part of multipart/alternative`, async () => {
      const transport = createTransport({ url: receiver.url });
      await transport.sendMail({
        from: "a@example.test",
        to: `mime-${textEncoding}@example.test`,
        subject: "Größe ".repeat(20).trim(),
        text,
        html: "<p>ignored</p>",
        textEncoding,
      });
      transport.close();
      const got = await receiver.waitFor(`mime-${textEncoding}@example.test`);
      expect(got.subject).toBe("Größe ".repeat(20).trim());
      expect(got.text).toBe(text);
      expect(got.raw.toLowerCase()).toContain(`content-transfer-encoding: ${textEncoding}`);
    });
  }

  it("decodes a single-part plain message and Q-encoded words", () => {
    const raw = "Subject: =?UTF-8?Q?Caf=C3=A9_au?= =?UTF-8?Q?_lait?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\nworld";
    expect(plainTextOf(raw)).toBe("hello\nworld");
    expect(decodeHeaderValue("=?UTF-8?Q?Caf=C3=A9_au?= =?UTF-8?Q?_lait?=")).toBe("Café au lait");
    expect(decodeHeaderValue("plain =?utf-8?B?w6k=?= tail")).toBe("plain é tail");
  });

  it("waitFor returns successive messages and times out with the addresses it saw", async () => {
    const transport = createTransport({ url: receiver.url });
    for (const n of [1, 2]) await transport.sendMail({ from: "a@example.test", to: "twice@example.test", subject: `n${n}`, text: "t" });
    transport.close();
    expect((await receiver.waitFor("twice@example.test")).subject).toBe("n1");
    expect((await receiver.waitFor("TWICE@example.test")).subject).toBe("n2");
    await expect(receiver.waitFor("twice@example.test", 100)).rejects.toThrow(/no mail to twice@example.test/);
  });
});

describe("templates", () => {
  it("escape the HTML body and keep the text body literal", () => {
    const m = loginCodeMail({ brand: `<b>"Brand"</b>`, name: `<script>alert(1)</script>`, code: "123456", expiresMinutes: 5 });
    expect(m.html).not.toContain("<script>");
    expect(m.html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(m.html).toContain("&lt;b&gt;&quot;Brand&quot;&lt;/b&gt;");
    expect(m.text).toContain("Hello <script>alert(1)</script>,");
    expect(m.subject).not.toContain("123456");
    const v = verificationMail({ brand: "B", name: "N", link: "javascript:alert(1)", expiresHours: 24 });
    expect(v.html).not.toContain('href="javascript:');
    expect(v.text).toContain("expires in 24 hours");
  });
});
