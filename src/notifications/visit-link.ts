/**
 * Where a patient joins a video visit. A placeholder until the video domain issues signed visit links: it will
 * replace this one function (and keep its arguments), and every email that carries a link follows.
 */
export function visitLink(webAppUrl: string, clinicSlug: string, appointmentId: string): string {
  return `${webAppUrl.replace(/\/$/, '')}/c/${encodeURIComponent(clinicSlug)}/visit/${encodeURIComponent(appointmentId)}`;
}
