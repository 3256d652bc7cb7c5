import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { en, type MessageKey, type Messages } from './en';

/**
 * English and German. The language is the person's own choice when they made one, else the first of the
 * browser's languages the clinic offers, else the clinic's default (the platform's screens offer both and
 * default to English). Dates, times and numbers are written in the viewer's locale and time zone: the
 * browser's locale when it speaks the chosen language (en-GB writes 4 March, en-US March 4), the language
 * itself otherwise.
 */
export const LANGUAGES = ['en', 'de'] as const;
export type Language = (typeof LANGUAGES)[number];

export interface LanguagePolicy {
  /** What the clinic offers (all when unset) and its default. */
  offered?: readonly Language[] | undefined;
  fallback?: Language | undefined;
}

const CHOICE_KEY = 'polyclinic.language';

export function chooseLanguage(policy: LanguagePolicy, browser: readonly string[] = navigator.languages): Language {
  const offered = policy.offered?.length ? policy.offered : LANGUAGES;
  const chosen = localStorage.getItem(CHOICE_KEY) as Language | null;
  if (chosen && offered.includes(chosen)) return chosen;
  for (const tag of browser) {
    const lang = tag.slice(0, 2).toLowerCase() as Language;
    if (offered.includes(lang)) return lang;
  }
  return policy.fallback && offered.includes(policy.fallback) ? policy.fallback : (offered[0] ?? 'en');
}

const loaders: Record<Language, () => Promise<Messages>> = {
  en: async () => en,
  de: async () => (await import('./de')).de,
};

export type Vars = Record<string, string | number>;

export interface I18n {
  lang: Language;
  /** The BCP 47 locale dates and numbers are written in. */
  locale: string;
  timeZone: string;
  t(key: MessageKey, vars?: Vars): string;
  /** Text for a key built at run time (a setting's name), or undefined when the catalogue has none. */
  maybe(key: string, vars?: Vars): string | undefined;
  date(iso: string | Date, style?: Intl.DateTimeFormatOptions['dateStyle']): string;
  time(iso: string | Date): string;
  dateTime(iso: string | Date): string;
  number(n: number, options?: Intl.NumberFormatOptions): string;
  /**
   * A calendar date (YYYY-MM-DD) as written in the locale, without shifting it through a time zone: in a date
   * style, or in the parts given (a month as "November 2026", a week's Monday as "23 Nov").
   */
  calendarDate(ymd: string, style?: Intl.DateTimeFormatOptions['dateStyle'] | Intl.DateTimeFormatOptions): string;
  /** A calendar month (YYYY-MM, as the API keys months) as written in the locale: "November 2026". */
  calendarMonth(ym: string): string;
  /** A role's name: a base role's in the viewer's language, a clinic's own role as the clinic named it. */
  role(key: string, name?: string): string;
  /** Sets the person's own choice (kept on this device). */
  choose(lang: Language): void;
}

function localeFor(lang: Language, browser: readonly string[]): string {
  return browser.find((tag) => tag.toLowerCase().startsWith(lang)) ?? lang;
}

export function makeI18n(lang: Language, messages: Messages, choose: (l: Language) => void): I18n {
  const locale = localeFor(lang, navigator.languages);
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const formats = new Map<string, Intl.DateTimeFormat>();
  const fmt = (options: Intl.DateTimeFormatOptions) => {
    const key = JSON.stringify(options);
    let f = formats.get(key);
    if (!f) formats.set(key, (f = new Intl.DateTimeFormat(locale, options)));
    return f;
  };
  const at = (v: string | Date) => (typeof v === 'string' ? new Date(v) : v);
  return {
    lang,
    locale,
    timeZone,
    t(key, vars) {
      const text = messages[key] ?? en[key] ?? key;
      return vars ? text.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m)) : text;
    },
    maybe(key, vars) {
      const text = (messages as Record<string, string>)[key] ?? (en as Record<string, string>)[key];
      return text === undefined
        ? undefined
        : vars
          ? text.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m))
          : text;
    },
    role(key, name) {
      return (messages as Record<string, string>)[`role.${key}`] ?? name ?? key;
    },
    date: (v, style = 'medium') => fmt({ dateStyle: style }).format(at(v)),
    time: (v) => fmt({ timeStyle: 'short' }).format(at(v)),
    dateTime: (v) => fmt({ dateStyle: 'medium', timeStyle: 'short' }).format(at(v)),
    number: (n, options) => new Intl.NumberFormat(locale, options).format(n),
    calendarDate: (ymd, style = 'medium') =>
      fmt({ ...(typeof style === 'string' ? { dateStyle: style } : style), timeZone: 'UTC' }).format(new Date(`${ymd}T00:00:00Z`)),
    calendarMonth: (ym) => fmt({ month: 'long', year: 'numeric', timeZone: 'UTC' }).format(new Date(`${ym}-01T00:00:00Z`)),
    choose,
  };
}

const Context = createContext<I18n | null>(null);

export function I18nProvider({ policy, children }: { policy: LanguagePolicy; children: ReactNode }) {
  const [_version, setVersion] = useState(0);
  const lang = useMemo(() => chooseLanguage(policy), [policy.fallback, policy]);
  const [loaded, setLoaded] = useState<{ lang: Language; messages: Messages } | null>(lang === 'en' ? { lang, messages: en } : null);
  useEffect(() => {
    let live = true;
    if (loaded?.lang !== lang) void loaders[lang]().then((messages) => live && setLoaded({ lang, messages }));
    return () => {
      live = false;
    };
  }, [lang, loaded?.lang]);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const value = useMemo(
    () =>
      loaded &&
      makeI18n(loaded.lang, loaded.messages, (l) => {
        localStorage.setItem(CHOICE_KEY, l);
        setVersion((v) => v + 1);
      }),
    [loaded],
  );
  if (!value) return null;
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useI18n(): I18n {
  const v = useContext(Context);
  if (!v) throw new Error('useI18n outside I18nProvider');
  return v;
}

export type { MessageKey };
