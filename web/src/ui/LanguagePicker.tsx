import { SegmentedControl } from '@mantine/core';
import { useAppearance } from '../app/appearance';
import { LANGUAGES, useI18n, type Language } from '../i18n/i18n';

const NAMES: Record<Language, string> = { en: 'English', de: 'Deutsch' };

/** The person's own language choice, among those the clinic offers. */
export function LanguagePicker() {
  const { lang, choose, t } = useI18n();
  const { languages } = useAppearance();
  const offered = languages?.offered.length ? languages.offered : [...LANGUAGES];
  if (offered.length < 2) return null;
  return (
    <SegmentedControl
      size="xs"
      value={lang}
      onChange={(v) => choose(v as Language)}
      data={offered.map((l) => ({ value: l, label: NAMES[l] }))}
      aria-label={t('language.label')}
    />
  );
}
