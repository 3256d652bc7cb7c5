import type { Mail } from '../platform/mailer.js';
import type { ClinicLook } from './look.js';

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A clinic's email in its look: a header in its brand colour with its logo (or name), then the body's
 * paragraphs and an optional button. The logo travels as an inline attachment: mail clients block data: URLs
 * and remote images alike. Returns the HTML and the inline parts of the `Mail`.
 */
export function brandedHtml(
  look: ClinicLook,
  lang: 'en' | 'de',
  body: { paragraphs: string[]; button?: { label: string; href: string }; footnotes?: string[] },
): Pick<Mail, 'html' | 'inline'> {
  const logo = look.logo ? /^data:(image\/[a-z]+);base64,(.*)$/.exec(look.logo) : null;
  const header = logo
    ? `<img src="cid:logo" alt="${escapeHtml(look.displayName)}" height="40" style="display:block;height:40px;width:auto;border:0">`
    : `<span style="font-size:20px;font-weight:700;color:${look.onPrimaryColor}">${escapeHtml(look.displayName)}</span>`;
  const paragraphs = body.paragraphs
    .map((p) => `<p style="margin:0 0 16px;font-size:16px;line-height:1.5">${escapeHtml(p)}</p>`)
    .join('\n');
  const button = body.button
    ? `<p style="margin:8px 0 24px"><a href="${escapeHtml(body.button.href)}" style="display:inline-block;background:${look.primaryColor};color:${look.onPrimaryColor};text-decoration:none;font-weight:600;padding:12px 22px;border-radius:8px">${escapeHtml(body.button.label)}</a></p>`
    : '';
  const footnotes = (body.footnotes ?? [])
    .map((f) => `<p style="margin:0 0 8px;font-size:13px;color:#5c636a">${escapeHtml(f)}</p>`)
    .join('\n');
  const html = `<!doctype html><html lang="${lang}"><body style="margin:0;background:#f6f8f9;font-family:Segoe UI,Helvetica,Arial,sans-serif;color:#212529">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f6f8f9;padding:24px 0"><tr><td align="center">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="background:#ffffff;border-radius:10px;overflow:hidden;border:1px solid #e9ecef">
<tr><td style="background:${look.primaryColor};padding:20px 28px">${header}</td></tr>
<tr><td style="padding:28px">
${paragraphs}
${button}
${footnotes}
</td></tr></table></td></tr></table></body></html>`;
  return {
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
