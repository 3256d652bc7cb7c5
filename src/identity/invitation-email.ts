import { clinicLook } from '../branding/look.js';
import type { Clinic } from '../controlplane/clinics.js';
import type { Mail } from '../platform/mailer.js';
import type { Platform } from '../platform/platform.js';

const TEXT = {
  en: {
    subject: (clinic: string) => `You are invited to join ${clinic}`,
    hello: (name: string) => `Hello ${name},`,
    body: (clinic: string, role: string) => `${clinic} invites you to its Polyclinic workspace as ${role}.`,
    button: 'Accept the invitation',
    expires: (date: string) => `The link works once and expires on ${date}.`,
    ignore: 'If you did not expect this invitation, you can ignore this email.',
  },
  de: {
    subject: (clinic: string) => `Einladung zu ${clinic}`,
    hello: (name: string) => `Hallo ${name},`,
    body: (clinic: string, role: string) => `${clinic} lädt Sie in den Polyclinic-Arbeitsbereich ein, als ${role}.`,
    button: 'Einladung annehmen',
    expires: (date: string) => `Der Link gilt einmal und läuft am ${date} ab.`,
    ignore: 'Wenn Sie diese Einladung nicht erwartet haben, können Sie diese E-Mail ignorieren.',
  },
};

/**
 * The invitation email, in the clinic's look (its name, logo and colours) and its default language. The logo
 * travels as an inline attachment: mail clients block data: URLs and remote images alike.
 */
export async function invitationEmail(
  p: Pick<Platform, 'settings'>,
  clinic: Pick<Clinic, 'id' | 'slug' | 'name'>,
  m: { to: string; name: string; roleName: string; link: string; expiresAt: Date },
): Promise<Mail> {
  const look = await clinicLook(p.settings, clinic);
  const lang = look.languages.default;
  const t = TEXT[lang];
  const expires = new Intl.DateTimeFormat(lang === 'de' ? 'de-DE' : 'en-GB', { dateStyle: 'long', timeZone: 'UTC' }).format(m.expiresAt);
  const logo = look.logo ? /^data:(image\/[a-z]+);base64,(.*)$/.exec(look.logo) : null;
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const header = logo
    ? `<img src="cid:logo" alt="${esc(look.displayName)}" height="40" style="display:block;height:40px;width:auto;border:0">`
    : `<span style="font-size:20px;font-weight:700;color:${look.onPrimaryColor}">${esc(look.displayName)}</span>`;
  const html = `<!doctype html><html lang="${lang}"><body style="margin:0;background:#f6f8f9;font-family:Segoe UI,Helvetica,Arial,sans-serif;color:#212529">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f6f8f9;padding:24px 0"><tr><td align="center">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="background:#ffffff;border-radius:10px;overflow:hidden;border:1px solid #e9ecef">
<tr><td style="background:${look.primaryColor};padding:20px 28px">${header}</td></tr>
<tr><td style="padding:28px">
<p style="margin:0 0 12px;font-size:16px">${esc(t.hello(m.name))}</p>
<p style="margin:0 0 24px;font-size:16px;line-height:1.5">${esc(t.body(look.displayName, m.roleName))}</p>
<p style="margin:0 0 24px"><a href="${esc(m.link)}" style="display:inline-block;background:${look.primaryColor};color:${look.onPrimaryColor};text-decoration:none;font-weight:600;padding:12px 22px;border-radius:8px">${esc(t.button)}</a></p>
<p style="margin:0 0 8px;font-size:13px;color:#5c636a">${esc(t.expires(expires))}</p>
<p style="margin:0;font-size:13px;color:#5c636a">${esc(t.ignore)}</p>
</td></tr></table></td></tr></table></body></html>`;
  const text = [
    t.hello(m.name),
    '',
    t.body(look.displayName, m.roleName),
    '',
    `${t.button}: ${m.link}`,
    '',
    t.expires(expires),
    t.ignore,
    '',
  ].join('\n');
  return {
    to: m.to,
    subject: t.subject(look.displayName),
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
