export { createMailer, DevMailer, SmtpMailer, type MailMessage, type Mailer } from "./mailer.js";
export { loginCodeMail, verificationMail, type MailContent } from "./templates.js";
