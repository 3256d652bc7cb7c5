import type { MailLanguage } from '../branding/mail.js';
import type { BuiltinWidget, DimensionKey, InstrumentKey, MeasureKey } from './migration.js';

/**
 * The words of a scheduled report in the clinic's language (its `locale.defaultLanguage` setting, as every email a
 * clinic sends): the email's subject and text, the CSV's header, the PDF's lead, and the names of the built-in
 * widgets, their figures, the measures, the dimensions and the groups that are not the clinic's own names (a
 * provider's name or an appointment type stays as the clinic wrote it). The measure and dimension names are the web
 * app's (`web/src/i18n/*.ts`, `analytics.measure.*` and `analytics.dimension.*`), so a report reads like the screen.
 */
export interface ReportWords {
  /** BCP 47 locale dates and numbers are written in. */
  locale: string;
  builtins: Record<BuiltinWidget, string>;
  /** A built-in widget's figures and the columns of its tables (`figure`, `value`, the outcome columns). */
  figures: Record<string, string>;
  measures: Record<MeasureKey, string>;
  dimensions: Record<DimensionKey, string>;
  /** Group keys that are words, not the clinic's names: the one total, the modalities, the instruments. */
  groups: Record<string, string>;
  csvHeader: [widget: string, group: string, figure: string, value: string];
  /** The first and last day a report covers (the time zone is said beside it where there is room). */
  period: (from: string, to: string) => string;
  aggregatesOnly: string;
  subject: (clinic: string, dashboard: string, period: string) => string;
  body: (dashboard: string, period: string, timeZone: string) => string;
  fileName: string;
}

const INSTRUMENTS: Record<InstrumentKey, string> = { phq9: 'PHQ-9', gad7: 'GAD-7' };

export const REPORT_WORDS: Record<MailLanguage, ReportWords> = {
  en: {
    locale: 'en-GB',
    builtins: {
      appointments: 'Appointments',
      no_show_rate: 'No-show rate',
      utilisation: 'Utilisation',
      revenue: 'Revenue',
      satisfaction: 'Patient satisfaction',
      outcomes: 'Outcomes (PHQ-9, GAD-7)',
    },
    figures: {
      figure: 'Figure',
      value: 'Value',
      booked: 'Booked',
      completed: 'Completed',
      cancelled: 'Cancelled',
      no_show: 'No-shows',
      no_show_rate: 'No-show rate',
      booked_minutes: 'Booked minutes',
      available_minutes: 'Available minutes',
      rate: 'Utilisation rate',
      currency: 'Currency',
      charged_minor: 'Charged (minor units)',
      paid_minor: 'Paid (minor units)',
      outstanding_minor: 'Outstanding (minor units)',
      waived_minor: 'Waived (minor units)',
      charged_visits: 'Charged visits',
      responses: 'Ratings',
      response_rate: 'Response rate',
      average_overall: 'Average overall',
      net_promoter_score: 'Net promoter score',
      instrument: 'Questionnaire',
      assessments: 'Assessments',
      patients: 'Patients',
      mean_score: 'Mean score',
      improved: 'Improved',
      measured_twice: 'Measured twice',
    },
    measures: {
      visits: 'Visits booked',
      completed_visits: 'Completed visits',
      cancelled_visits: 'Cancelled visits',
      no_shows: 'No-shows',
      no_show_rate: 'No-show rate',
      booked_minutes: 'Booked minutes',
      revenue_charged: 'Revenue charged (minor units)',
      revenue_paid: 'Revenue paid (minor units)',
      survey_responses: 'Survey responses',
      mean_satisfaction: 'Mean satisfaction (1–5)',
      net_promoter_score: 'Net promoter score',
      phq9_mean: 'PHQ-9 mean score',
      gad7_mean: 'GAD-7 mean score',
    },
    dimensions: {
      none: 'Total',
      provider: 'Provider',
      appointment_type: 'Appointment type',
      modality: 'Video or in person',
      week: 'Week',
      month: 'Month',
    },
    groups: { all: 'Total', video: 'Video', in_person: 'In person', ...INSTRUMENTS },
    csvHeader: ['Widget', 'Group', 'Figure', 'Value'],
    period: (from, to) => `${from} to ${to}`,
    aggregatesOnly: 'Aggregates only: no patient-level data.',
    subject: (clinic, dashboard, period) => `${clinic}: ${dashboard} (${period})`,
    body: (dashboard, period, zone) =>
      `The scheduled report of the dashboard “${dashboard}” for ${period} (${zone}) is attached as CSV and PDF.`,
    fileName: 'report',
  },
  de: {
    locale: 'de-DE',
    builtins: {
      appointments: 'Termine',
      no_show_rate: 'Nichterscheinungsquote',
      utilisation: 'Auslastung',
      revenue: 'Umsatz',
      satisfaction: 'Zufriedenheit der Patienten',
      outcomes: 'Behandlungsergebnisse (PHQ-9, GAD-7)',
    },
    figures: {
      figure: 'Kennzahl',
      value: 'Wert',
      booked: 'Gebucht',
      completed: 'Abgeschlossen',
      cancelled: 'Abgesagt',
      no_show: 'Nicht erschienen',
      no_show_rate: 'Nichterscheinungsquote',
      booked_minutes: 'Gebuchte Minuten',
      available_minutes: 'Verfügbare Minuten',
      rate: 'Auslastungsquote',
      currency: 'Währung',
      charged_minor: 'Berechnet (Cent)',
      paid_minor: 'Bezahlt (Cent)',
      outstanding_minor: 'Offen (Cent)',
      waived_minor: 'Erlassen (Cent)',
      charged_visits: 'Berechnete Termine',
      responses: 'Bewertungen',
      response_rate: 'Antwortquote',
      average_overall: 'Durchschnitt gesamt',
      net_promoter_score: 'Net Promoter Score',
      instrument: 'Fragebogen',
      assessments: 'Erhebungen',
      patients: 'Patienten',
      mean_score: 'Mittlerer Punktwert',
      improved: 'Verbessert',
      measured_twice: 'Zweimal erhoben',
    },
    measures: {
      visits: 'Gebuchte Termine',
      completed_visits: 'Abgeschlossene Termine',
      cancelled_visits: 'Abgesagte Termine',
      no_shows: 'Nicht erschienen',
      no_show_rate: 'Nichterscheinungsquote',
      booked_minutes: 'Gebuchte Minuten',
      revenue_charged: 'Berechneter Umsatz (Cent)',
      revenue_paid: 'Bezahlter Umsatz (Cent)',
      survey_responses: 'Umfrageantworten',
      mean_satisfaction: 'Mittlere Zufriedenheit (1–5)',
      net_promoter_score: 'Net Promoter Score',
      phq9_mean: 'PHQ-9 Mittelwert',
      gad7_mean: 'GAD-7 Mittelwert',
    },
    dimensions: {
      none: 'Gesamt',
      provider: 'Behandler',
      appointment_type: 'Terminart',
      modality: 'Video oder vor Ort',
      week: 'Woche',
      month: 'Monat',
    },
    groups: { all: 'Gesamt', video: 'Video', in_person: 'Vor Ort', ...INSTRUMENTS },
    csvHeader: ['Widget', 'Gruppe', 'Kennzahl', 'Wert'],
    period: (from, to) => `${from} bis ${to}`,
    aggregatesOnly: 'Nur aggregierte Werte: keine Daten einzelner Patienten.',
    subject: (clinic, dashboard, period) => `${clinic}: ${dashboard} (${period})`,
    body: (dashboard, period, zone) =>
      `Der geplante Bericht der Übersicht „${dashboard}“ für ${period} (${zone}) ist als CSV und PDF angehängt.`,
    fileName: 'bericht',
  },
};
