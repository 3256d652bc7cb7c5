import type { Clinic } from '../controlplane/clinics.js';
import type { SettingsService } from '../settings/service.js';

/** How a clinic presents itself: its name, logo and colours, and the languages it speaks. */
export interface ClinicLook {
  slug: string;
  name: string;
  displayName: string;
  logo: string | null;
  primaryColor: string;
  onPrimaryColor: string;
  languages: { offered: ('en' | 'de')[]; default: 'en' | 'de' };
}

/** The look a clinic runs with now: its effective `branding` and `locale` settings over its registered name. */
export async function clinicLook(settings: SettingsService, clinic: Pick<Clinic, 'id' | 'slug' | 'name'>): Promise<ClinicLook> {
  const { branding, locale } = await settings.effectiveFor(clinic.id);
  return {
    slug: clinic.slug,
    name: clinic.name,
    displayName: branding.displayName ?? clinic.name,
    logo: branding.logo,
    primaryColor: branding.primaryColor,
    onPrimaryColor: branding.onPrimaryColor,
    languages: { offered: locale.languages, default: locale.defaultLanguage },
  };
}
