import { brandedMail, mailDate, type MailLanguage } from '../branding/mail.js';
import type { Clinic } from '../controlplane/clinics.js';
import type { Mail } from '../platform/mailer.js';
import type { SettingsService } from '../settings/service.js';
import type { LinkPurpose } from './migration.js';

type Words = { subject: (clinic: string) => string; body: (clinic: string) => string; button: string };
const TEXT: Record<MailLanguage, Record<LinkPurpose, Words> & { hello: string; expires: (d: string) => string; ignore: string }> = {
  en: {
    hello: 'Hello,',
    invitation: {
      subject: (c) => `${c} invites you to its patient portal`,
      body: (c) =>
        `${c} invites you to its patient portal: see and book your visits, fill in questionnaires before them and read what your provider shares after.`,
      button: 'Open the patient portal',
    },
    sign_in: {
      subject: (c) => `Your sign-in link for ${c}`,
      body: (c) => `Use this link to sign in to the patient portal of ${c}.`,
      button: 'Sign in',
    },
    registration: {
      subject: (c) => `Confirm your email for ${c}`,
      body: (c) => `Confirm your email address to finish registering with the patient portal of ${c}.`,
      button: 'Confirm and sign in',
    },
    expires: (d) => `The link works once and expires on ${d} (UTC).`,
    ignore: 'If you did not ask for this email, you can ignore it.',
  },
  de: {
    hello: 'Guten Tag,',
    invitation: {
      subject: (c) => `${c} lädt Sie in das Patientenportal ein`,
      body: (c) =>
        `${c} lädt Sie in das Patientenportal ein: Termine ansehen und buchen, Fragebögen vor dem Termin ausfüllen und lesen, was Ihre Praxis danach freigibt.`,
      button: 'Patientenportal öffnen',
    },
    sign_in: {
      subject: (c) => `Ihr Anmeldelink für ${c}`,
      body: (c) => `Mit diesem Link melden Sie sich im Patientenportal von ${c} an.`,
      button: 'Anmelden',
    },
    registration: {
      subject: (c) => `Bestätigen Sie Ihre E-Mail-Adresse für ${c}`,
      body: (c) => `Bestätigen Sie Ihre E-Mail-Adresse, um die Registrierung im Patientenportal von ${c} abzuschließen.`,
      button: 'Bestätigen und anmelden',
    },
    expires: (d) => `Der Link gilt einmal und läuft am ${d} (UTC) ab.`,
    ignore: 'Wenn Sie diese E-Mail nicht angefordert haben, können Sie sie ignorieren.',
  },
};

/**
 * The patient portal's one-time link emails (an invitation from the clinic, a sign-in link, a registration to
 * confirm), in the clinic's look and language. They say nothing about the patient's health: only that the
 * address is known to the clinic, which the patient asked for or the clinic was told.
 */
export function portalLinkEmail(
  settings: Pick<SettingsService, 'effectiveFor'>,
  clinic: Pick<Clinic, 'id' | 'slug' | 'name'>,
  m: { purpose: LinkPurpose; to: string; link: string; expiresAt: Date },
): Promise<Mail> {
  return brandedMail(settings, clinic, m.to, (lang, clinicName) => {
    const t = TEXT[lang];
    const w = t[m.purpose];
    return {
      subject: w.subject(clinicName),
      hello: t.hello,
      body: w.body(clinicName),
      button: w.button,
      link: m.link,
      notes: [t.expires(mailDate(lang, m.expiresAt, m.purpose === 'sign_in')), t.ignore],
    };
  });
}
