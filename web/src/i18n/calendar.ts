/** Calendar arithmetic on local dates (YYYY-MM-DD), which never pass through a time zone. */
export function today(): string {
  return ymd(new Date());
}

export function ymd(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export function addDays(date: string, n: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return ymd(new Date(y, m - 1, d + n));
}

/** The first day of the week in a locale: 0 Sunday … 6 Saturday (Monday in Germany and most of Europe, Sunday in the US). */
export function firstDayOfWeek(locale: string): 0 | 1 | 6 {
  try {
    const l = new Intl.Locale(locale) as Intl.Locale & { getWeekInfo?: () => { firstDay: number }; weekInfo?: { firstDay: number } };
    const first = (l.getWeekInfo?.() ?? l.weekInfo)?.firstDay;
    if (first) return (first % 7) as 0 | 1 | 6;
  } catch {
    // fall through
  }
  return locale.startsWith('en-US') || locale === 'en' ? 0 : 1;
}

export function startOfWeek(date: string, first: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const day = new Date(y, m - 1, d).getDay();
  return addDays(date, -((day - first + 7) % 7));
}

/** A local wall-clock "YYYY-MM-DD HH:mm:ss" of an instant, in the viewer's time zone. */
export function localDateTime(iso: string): string {
  const d = new Date(iso);
  const hh = String(d.getHours()).padStart(2, '0');
  const mm = String(d.getMinutes()).padStart(2, '0');
  return `${ymd(d)} ${hh}:${mm}:00`;
}
