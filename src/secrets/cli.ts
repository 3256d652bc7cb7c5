import { AppError } from '../errors.js';
import type { Platform } from '../platform/platform.js';
import { resealAll, rotateClinicKey } from './reseal.js';

/** `polyclinic secrets reseal` and `polyclinic secrets rotate <clinicId>` (`reseal.ts` says what each does). */
export async function secretsCommand(p: Platform, sub: string | undefined, rest: string[]): Promise<number> {
  if (sub === 'reseal') {
    const results = await resealAll(p);
    for (const r of results)
      console.log(`${r.clinicId} ${r.resealed} resealed, ${r.unchanged} unchanged${r.error ? `; store not resealed (${r.error})` : ''}`);
    const failed = results.filter((r) => r.error).length;
    const resealed = results.reduce((n, r) => n + r.resealed, 0);
    console.log(`${results.length} clinics: ${resealed} secrets resealed, ${failed} clinics to run again`);
    return failed ? 1 : 0;
  }
  if (sub === 'rotate') {
    const [clinicId] = rest;
    if (!clinicId || !(await p.clinics.fresh(clinicId))) {
      console.error('usage: polyclinic secrets rotate <clinicId> (clinic not found)');
      return 2;
    }
    try {
      const r = await rotateClinicKey(p, clinicId);
      console.log(
        `${clinicId} key ${r.version}: ${r.resealed} resealed, ${r.unchanged} unchanged; destroyed ${r.destroyed.join(', ') || 'none'}`,
      );
      return 0;
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      console.error(`${err.code}: ${err.message}`);
      return 1;
    }
  }
  console.error('usage: polyclinic secrets reseal | polyclinic secrets rotate <clinicId>');
  return 2;
}
