import { brandedHtml } from '../branding/email-layout.js';
import type { ClinicLook } from '../branding/look.js';
import type { Mail } from '../platform/mailer.js';

/** What a patient is told about an appointment: booked, moved, or due soon. */
export type AppointmentNotice = 'confirmation' | 'rescheduled' | 'reminder-24h' | 'reminder-1h';

export interface VisitFacts {
  /** The patient's given name, for the greeting. */
  givenName: string;
  providerName: string;
  startsAt: Date;
  timeZone: string;
  modality: 'video' | 'in_person';
  /** The video visit's link, for video appointments. */
  link: string | null;
}

interface Words {
  visit: (video: boolean) => string;
  subject: Record<AppointmentNotice, (clinic: string, when: string, time: string, visit: string) => string>;
  hello: (name: string) => string;
  lead: Record<AppointmentNotice, (visit: string, provider: string, when: string) => string>;
  video: string;
  join: string;
  inPerson: (clinic: string) => string;
  calendar: string;
  change: (clinic: string) => string;
  sms: (clinic: string, when: string) => string;
}

const WORDS: Record<'en' | 'de', Words> = {
  en: {
    visit: (video) => (video ? 'video visit' : 'appointment'),
    subject: {
      confirmation: (clinic, when) => `Your appointment with ${clinic} on ${when}`,
      rescheduled: (clinic, when) => `Your appointment with ${clinic} has moved to ${when}`,
      'reminder-24h': (clinic, when) => `Reminder: your appointment with ${clinic} on ${when}`,
      'reminder-1h': (clinic, _when, time, visit) => `Your ${visit} with ${clinic} starts at ${time}`,
    },
    hello: (name) => `Hello ${name},`,
    lead: {
      confirmation: (visit, provider, when) => `your ${visit} with ${provider} is booked for ${when}.`,
      rescheduled: (visit, provider, when) => `your ${visit} with ${provider} has moved to ${when}.`,
      'reminder-24h': (visit, provider, when) => `this is a reminder of your ${visit} with ${provider} on ${when}.`,
      'reminder-1h': (visit, provider, when) => `your ${visit} with ${provider} starts in an hour, on ${when}.`,
    },
    video: 'At the time of your visit, join it from this link. You will wait in the waiting room until you are admitted.',
    join: 'Join the video visit',
    inPerson: (clinic) => `Please come to ${clinic} a few minutes early.`,
    calendar: 'The attached calendar file adds the visit to your calendar.',
    change: (clinic) => `To change or cancel it, please contact ${clinic}.`,
    sms: (clinic, when) => `${clinic}: reminder of your appointment on ${when}.`,
  },
  de: {
    visit: (video) => (video ? 'Videosprechstunde' : 'Termin'),
    subject: {
      confirmation: (clinic, when) => `Ihr Termin bei ${clinic} am ${when}`,
      rescheduled: (clinic, when) => `Ihr Termin bei ${clinic} wurde auf ${when} verschoben`,
      'reminder-24h': (clinic, when) => `Erinnerung: Ihr Termin bei ${clinic} am ${when}`,
      'reminder-1h': (clinic, _when, time, visit) => `Ihr${visit === 'Termin' ? '' : 'e'} ${visit} bei ${clinic} beginnt um ${time}`,
    },
    hello: (name) => `Hallo ${name},`,
    lead: {
      confirmation: (visit, provider, when) => `Ihr${visit === 'Termin' ? '' : 'e'} ${visit} bei ${provider} ist für ${when} gebucht.`,
      rescheduled: (visit, provider, when) => `Ihr${visit === 'Termin' ? '' : 'e'} ${visit} bei ${provider} wurde auf ${when} verschoben.`,
      'reminder-24h': (visit, provider, when) =>
        `wir erinnern Sie an Ihr${visit === 'Termin' ? 'en' : 'e'} ${visit} bei ${provider} am ${when}.`,
      'reminder-1h': (visit, provider, when) =>
        `Ihr${visit === 'Termin' ? '' : 'e'} ${visit} bei ${provider} beginnt in einer Stunde, am ${when}.`,
    },
    video: 'Treten Sie zur Terminzeit über diesen Link bei. Sie warten im Wartezimmer, bis Sie hereingebeten werden.',
    join: 'Videosprechstunde beitreten',
    inPerson: (clinic) => `Bitte kommen Sie einige Minuten vor dem Termin in die Praxis ${clinic}.`,
    calendar: 'Mit der angehängten Kalenderdatei tragen Sie den Termin in Ihren Kalender ein.',
    change: (clinic) => `Um den Termin zu ändern oder abzusagen, wenden Sie sich bitte an ${clinic}.`,
    sms: (clinic, when) => `${clinic}: Erinnerung an Ihren Termin am ${when}.`,
  },
};

/** The instant in the appointment's own zone, as a patient reads it in their language. */
function formatWhen(lang: 'en' | 'de', at: Date, timeZone: string): { when: string; time: string } {
  const locale = lang === 'de' ? 'de-DE' : 'en-GB';
  const when = new Intl.DateTimeFormat(locale, { dateStyle: 'full', timeStyle: 'short', timeZone }).format(at);
  const time = new Intl.DateTimeFormat(locale, { timeStyle: 'short', timeZone }).format(at);
  return { when: `${when} (${timeZone})`, time };
}

/**
 * An appointment's email in the clinic's look and default language. Subjects name the clinic and the time, not
 * the reason for the visit: a subject line is read on lock screens.
 */
export function appointmentEmail(look: ClinicLook, notice: AppointmentNotice, f: VisitFacts): Omit<Mail, 'to'> {
  const lang = look.languages.default;
  const w = WORDS[lang];
  const video = f.modality === 'video';
  const visit = w.visit(video);
  const { when, time } = formatWhen(lang, f.startsAt, f.timeZone);
  const paragraphs = [
    w.hello(f.givenName),
    w.lead[notice](visit, f.providerName, when),
    video && f.link ? w.video : w.inPerson(look.displayName),
  ];
  const footnotes = [...(notice === 'confirmation' || notice === 'rescheduled' ? [w.calendar] : []), w.change(look.displayName)];
  const button = video && f.link ? { label: w.join, href: f.link } : undefined;
  const text = `${[...paragraphs, ...(button ? [`${button.label}: ${button.href}`] : [])].join('\n\n')}\n\n${footnotes.join('\n')}\n`;
  return {
    subject: w.subject[notice](look.displayName, when, time, visit),
    text,
    fromName: look.displayName,
    ...brandedHtml(look, lang, { paragraphs, ...(button ? { button } : {}), footnotes }),
  };
}

/** A reminder as a text message: short, no reason for the visit, the link for a video visit. */
export function appointmentText(look: ClinicLook, f: VisitFacts): string {
  const lang = look.languages.default;
  const { when } = formatWhen(lang, f.startsAt, f.timeZone);
  return [WORDS[lang].sms(look.displayName, when), ...(f.modality === 'video' && f.link ? [f.link] : [])].join(' ');
}
