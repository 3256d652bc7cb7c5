import type { Clinic } from '../controlplane/clinics.js';
import type { Mail } from '../platform/mailer.js';
import type { SettingsService } from '../settings/service.js';
import { clinicLook } from './look.js';

/** The words of one email with one button, in the language the clinic's look chose. */
export interface MailWords {
  subject: string;
  hello: string;
  body: string;
  button: string;
  link: string;
  /** Small print under the button (expiry, "ignore if not you"). */
  notes: string[];
}

export type MailLanguage = 'en' | 'de';

/**
 * An email in the clinic's look: its name or logo on its brand colour, one paragraph, one button, small print.
 * Staff invitations and the patient portal's links share it, so every email a clinic sends looks like the
 * clinic. The logo travels as an inline attachment: mail clients block data: URLs and remote images alike.
 * `words` is asked for in the clinic's default language, with the clinic's display name.
 */
export async function brandedMail(
  settings: Pick<SettingsService, 'effectiveFor'>,
  clinic: Pick<Clinic, 'id' | 'slug' | 'name'>,
  to: string,
  words: (lang: MailLanguage, clinicName: string) => MailWords,
): Promise<Mail> {
  const look = await clinicLook(settings as SettingsService, clinic);
  const lang = look.languages.default;
  const t = words(lang, look.displayName);
  const logo = look.logo ? /^data:(image\/[a-z]+);base64,(.*)$/.exec(look.logo) : null;
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const header = logo
    ? `<img src="cid:logo" alt="${esc(look.displayName)}" height="40" style="display:block;height:40px;width:auto;border:0">`
    : `<span style="font-size:20px;font-weight:700;color:${look.onPrimaryColor}">${esc(look.displayName)}</span>`;
  const notes = t.notes.map(
    (n, i) => `<p style="margin:0 0 ${i === t.notes.length - 1 ? 0 : 8}px;font-size:13px;color:#5c636a">${esc(n)}</p>`,
  );
  const html = `<!doctype html><html lang="${lang}"><body style="margin:0;background:#f6f8f9;font-family:Segoe UI,Helvetica,Arial,sans-serif;color:#212529">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f6f8f9;padding:24px 0"><tr><td align="center">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="background:#ffffff;border-radius:10px;overflow:hidden;border:1px solid #e9ecef">
<tr><td style="background:${look.primaryColor};padding:20px 28px">${header}</td></tr>
<tr><td style="padding:28px">
<p style="margin:0 0 12px;font-size:16px">${esc(t.hello)}</p>
<p style="margin:0 0 24px;font-size:16px;line-height:1.5">${esc(t.body)}</p>
<p style="margin:0 0 24px"><a href="${esc(t.link)}" style="display:inline-block;background:${look.primaryColor};color:${look.onPrimaryColor};text-decoration:none;font-weight:600;padding:12px 22px;border-radius:8px">${esc(t.button)}</a></p>
${notes.join('\n')}
</td></tr></table></td></tr></table></body></html>`;
  const text = [t.hello, '', t.body, '', `${t.button}: ${t.link}`, '', ...t.notes, ''].join('\n');
  return {
    to,
    subject: t.subject,
    text,
    html,
    ...(logo
      ? {
          inline: [
            { cid: 'logo', filename: `logo.${logo[1]!.split('/')[1]}`, contentType: logo[1]!, content: Buffer.from(logo[2]!, 'base64') },
          ],
        }
      : {}),
  };
}

/** A date as the email's reader writes it. */
export const mailDate = (lang: MailLanguage, at: Date, withTime = false, timeZone = 'UTC'): string =>
  new Intl.DateTimeFormat(lang === 'de' ? 'de-DE' : 'en-GB', {
    dateStyle: 'long',
    ...(withTime ? { timeStyle: 'short' } : {}),
    timeZone,
  }).format(at);
