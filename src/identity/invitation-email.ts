import { brandedMail, mailDate } from '../branding/mail.js';
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

/** The invitation email, in the clinic's look (its name, logo and colours) and its default language. */
export async function invitationEmail(
  p: Pick<Platform, 'settings'>,
  clinic: Pick<Clinic, 'id' | 'slug' | 'name'>,
  m: { to: string; name: string; roleName: string; link: string; expiresAt: Date },
): Promise<Mail> {
  return brandedMail(p.settings, clinic, m.to, (lang, clinicName) => {
    const t = TEXT[lang];
    return {
      subject: t.subject(clinicName),
      hello: t.hello(m.name),
      body: t.body(clinicName, m.roleName),
      button: t.button,
      link: m.link,
      notes: [t.expires(mailDate(lang, m.expiresAt)), t.ignore],
    };
  });
}
