import type { EncounterRecord } from '../../clinic/data';
import type { I18n } from '../../i18n/i18n';
import { FREQUENCIES, ROUTES } from '../../../../src/clinical/vocabulary';

export { DISPENSE_UNITS, DOSE_UNITS, FREQUENCIES, ROUTES } from '../../../../src/clinical/vocabulary';

type Vitals = NonNullable<EncounterRecord['vitals']>[number];

export function routeLabel(route: string, t: I18n['t']): string {
  return (ROUTES as readonly string[]).includes(route) ? t(`route.${route as (typeof ROUTES)[number]}`) : route;
}

export function frequencyLabel(f: string, t: I18n['t']): string {
  return (FREQUENCIES as readonly string[]).includes(f) ? t(`frequency.${f as (typeof FREQUENCIES)[number]}`) : f;
}

/** A set of vitals as label/value pairs in the viewer's number format (stored canonical units: °C, kg, cm). */
export function vitalsSummary(v: Vitals, t: I18n['t'], number: (n: number) => string = String): [string, string][] {
  const out: [string, string][] = [];
  if (v.bloodPressure) out.push([t('vitals.bp'), `${number(v.bloodPressure.systolic)}/${number(v.bloodPressure.diastolic)} mmHg`]);
  if (v.heartRate) out.push([t('vitals.hr'), `${number(v.heartRate.value)} /min`]);
  if (v.temperature) out.push([t('vitals.temp'), `${number(v.temperature.value)} °C`]);
  if (v.respiratoryRate) out.push([t('vitals.rr'), `${number(v.respiratoryRate.value)} /min`]);
  if (v.oxygenSaturation) out.push([t('vitals.spo2'), `${number(v.oxygenSaturation.value)} %`]);
  if (v.weight) out.push([t('vitals.weight'), `${number(v.weight.value)} kg`]);
  if (v.height) out.push([t('vitals.height'), `${number(v.height.value)} cm`]);
  return out;
}
