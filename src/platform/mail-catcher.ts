import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { Logger } from 'pino';

/** A message as the catcher received it over SMTP. */
export interface CaughtMail {
  from: string;
  to: string[];
  raw: string;
  subject: string;
  /** The text/plain part, transfer-decoded. */
  text: string;
  receivedAt: Date;
}

export interface MailCatcher {
  url: string;
  messages: CaughtMail[];
  /** Resolves with the first message (already caught or still to come) that matches. */
  waitFor(match: (m: CaughtMail) => boolean, timeoutMs?: number): Promise<CaughtMail>;
  stop(): Promise<void>;
}

/**
 * A real SMTP server on localhost that keeps what it receives: the embedded default's mail relay (messages are
 * written to the data directory, and their links logged, so a developer can follow an invitation) and the
 * tests' (which read the message a person would get). The platform sends to it over SMTP exactly as it sends to
 * a production relay; nothing is delivered anywhere.
 */
export async function startMailCatcher(opts: { dir?: string; log?: Logger; port?: number } = {}): Promise<MailCatcher> {
  const messages: CaughtMail[] = [];
  const waiters: { match: (m: CaughtMail) => boolean; resolve: (m: CaughtMail) => void }[] = [];
  if (opts.dir) mkdirSync(opts.dir, { recursive: true });
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 5 * 1024 * 1024,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const mail: CaughtMail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          subject: safely(() => decodeHeader(/^Subject: (.*(?:\r?\n[ \t].*)*)/im.exec(raw)?.[1] ?? '')),
          text: safely(() => textPart(raw)),
          receivedAt: new Date(),
        };
        messages.push(mail);
        if (opts.dir) writeFileSync(join(opts.dir, `${mail.receivedAt.toISOString().replace(/[:.]/g, '-')}-${messages.length}.eml`), raw);
        opts.log?.info(
          { to: mail.to, subject: mail.subject, links: mail.text.match(/https?:\/\/\S+/g) ?? [] },
          'mail caught (not delivered)',
        );
        for (const w of [...waiters]) if (w.match(mail)) waiters.splice(waiters.indexOf(w), 1), w.resolve(mail);
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    waitFor(match, timeoutMs = 10_000) {
      const found = messages.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { match, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1), reject(new Error('no matching mail arrived'));
        }, timeoutMs).unref();
      });
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A message the catcher cannot read is kept raw: reading it must never take the process down. */
function safely(read: () => string): string {
  try {
    return read();
  } catch {
    return '';
  }
}

/** The text/plain part of a MIME entity (a whole message, or one part of it), transfer-decoded. */
function textPart(entity: string): string {
  const split = entity.search(/\r?\n\r?\n/);
  if (split < 0) return '';
  const headers = entity.slice(0, split).replace(/\r?\n[ \t]+/g, ' ');
  const body = entity.slice(split).replace(/^\r?\n\r?\n/, '');
  const type = /^content-type:\s*([^;\r\n]+)/im.exec(headers)?.[1]?.trim().toLowerCase() ?? 'text/plain';
  if (type.startsWith('multipart/')) {
    const boundary = /boundary="?([^";\r\n]+)"?/i.exec(headers)?.[1];
    if (!boundary) return '';
    // The parts between the delimiters; the preamble before the first and the epilogue after the last are not parts.
    for (const part of body.split(`--${boundary}`).slice(1)) {
      if (part.startsWith('--')) break;
      const text = textPart(part.replace(/^\r?\n/, ''));
      if (text) return text;
    }
    return '';
  }
  if (type !== 'text/plain') return '';
  if (/^content-transfer-encoding:\s*base64/im.test(headers)) return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (/^content-transfer-encoding:\s*quoted-printable/im.test(headers)) return decodeQuotedPrintable(body);
  return body;
}

function decodeQuotedPrintable(s: string): string {
  const bytes = s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/** RFC 2047 encoded words (=?UTF-8?Q?…?= and =?UTF-8?B?…?=) in a header. */
function decodeHeader(v: string): string {
  return v
    .replace(/\r?\n[ \t]/g, ' ')
    .replace(/=\?utf-8\?([QB])\?([^?]*)\?=\s*/gi, (_, enc: string, text: string) =>
      enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : decodeQuotedPrintable(text.replace(/_/g, ' ')),
    )
    .trim();
}
