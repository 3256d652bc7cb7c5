import nodemailer from 'nodemailer';
import type { Logger } from 'pino';

export interface Mail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Inline images, referenced from the HTML as `cid:<cid>`. */
  inline?: { cid: string; filename: string; contentType: string; content: Buffer }[];
  /** Files to keep (an appointment's `.ics`). */
  attachments?: { filename: string; contentType: string; content: string | Buffer }[];
  /** Shown as the sender's name (a clinic's), at the deployment's own address: SPF and DKIM stay the platform's. */
  fromName?: string;
  /** A Message-ID the caller chose (deterministic per message, so a resend is recognisably the same message). */
  messageId?: string;
}

export interface Mailer {
  send(mail: Mail): Promise<void>;
  close(): void;
}

/**
 * Email goes out over SMTP through nodemailer: to the configured relay, or on the embedded default to the local
 * catcher. A deployment with neither (a test that sends no mail, say) gets a mailer that logs instead, so a
 * missing relay never fails a request that also shows its link.
 */
export function createMailer(smtpUrl: string | undefined, from: string, log: Logger): Mailer {
  if (!smtpUrl)
    return {
      async send(mail) {
        log.info(
          { to: mail.to, subject: mail.subject, links: mail.text.match(/https?:\/\/\S+/g) ?? [] },
          'mail not sent: no SMTP relay configured',
        );
      },
      close() {},
    };
  const transport = nodemailer.createTransport(smtpUrl);
  return {
    async send(mail) {
      await transport.sendMail({
        from: mail.fromName ? { name: mail.fromName, address: /<([^>]+)>/.exec(from)?.[1] ?? from } : from,
        ...(mail.messageId ? { messageId: mail.messageId } : {}),
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        attachments: [
          ...(mail.inline ?? []).map((i) => ({
            cid: i.cid,
            filename: i.filename,
            contentType: i.contentType,
            content: i.content,
            contentDisposition: 'inline' as const,
          })),
          ...(mail.attachments ?? []),
        ],
      });
    },
    close: () => transport.close(),
  };
}
