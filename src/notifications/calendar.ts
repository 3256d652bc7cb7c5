import ical, { ICalCalendarMethod } from 'ical-generator';

/**
 * The `.ics` file of an appointment (RFC 5545, written by ical-generator). Its UID is the appointment's, and
 * its SEQUENCE the appointment's version, so a calendar that imported the first confirmation updates the same
 * event when the visit is moved instead of keeping both. Times are written in UTC: every calendar shows them in
 * its owner's zone, and no VTIMEZONE block has to travel with the file.
 */
export function appointmentCalendar(a: {
  appointmentId: string;
  version: number;
  startsAt: Date;
  endsAt: Date;
  title: string;
  description: string;
  url: string | null;
}): string {
  const calendar = ical({ prodId: { company: 'Polyclinic', product: 'appointments' }, method: ICalCalendarMethod.PUBLISH });
  calendar.createEvent({
    id: `${a.appointmentId}@polyclinic`,
    sequence: a.version,
    start: a.startsAt,
    end: a.endsAt,
    summary: a.title,
    description: a.description,
    ...(a.url ? { url: a.url, location: a.url } : {}),
  });
  return calendar.toString();
}
