import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CLINIC_TIERS, type ClinicTier } from '../controlplane/schema.js';
import { downloadFullExport } from '../export/download.js';
import { isId } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { offboardClinic } from './offboard.js';
import { changeTier } from './tier.js';

/**
 * `polyclinic clinics suspend|resume|tier|offboard <clinicId> …`: the clinic lifecycle (src/lifecycle/,
 * fleet/incidents.ts): suspend, resume, tier change, offboarding.
 */
export async function lifecycleCommand(
  p: Platform,
  sub: string,
  rest: string[],
  values: { readonly [flag in 'reason' | 'stay' | 'approval' | 'confirm' | 'out']?: string | boolean },
): Promise<number> {
  const [clinicId, arg] = rest;
  const clinic = clinicId ? await p.clinics.fresh(clinicId) : undefined;
  if (!clinic) {
    console.error(`usage: polyclinic clinics ${sub} <clinicId> … (clinic not found)`);
    return 2;
  }
  if (sub === 'suspend' || sub === 'resume') {
    const reason = typeof values.reason === 'string' ? values.reason.trim() : '';
    if (sub === 'suspend' && !reason) {
      console.error('usage: polyclinic clinics suspend <clinicId> --reason TEXT (shown to the clinic’s members)');
      return 2;
    }
    const changed = await p.clinics.setIncidentMode(clinic.id, sub === 'suspend' ? 'suspended' : 'active', reason || null);
    if (!changed) {
      console.error(`clinic_not_settled: the clinic is ${clinic.status}; wait until it is active, then try again`);
      return 1;
    }
    console.log(`${clinic.id} is ${changed.status}`);
    return 0;
  }
  if (sub === 'tier') {
    if (!CLINIC_TIERS.includes(arg as ClinicTier)) {
      console.error('usage: polyclinic clinics tier <clinicId> small|mid|enterprise [--stay]');
      return 2;
    }
    const { clinic: now, move } = await changeTier(p, clinic.id, arg as ClinicTier, { move: !values.stay });
    console.log(
      `${now.id} is ${now.tier}, in ${now.placement.model} placement${move ? ` (moved; writes frozen ${move.frozenMs} ms)` : ''}`,
    );
    return 0;
  }
  const approval = typeof values.approval === 'string' ? values.approval : '';
  const confirm = typeof values.confirm === 'string' ? values.confirm : '';
  if (!isId('exportRequest', approval) || !confirm) {
    console.error('usage: polyclinic clinics offboard <clinicId> --approval exr_… --confirm SLUG [--out FILE]');
    return 2;
  }
  const request = await p.control
    .selectFrom('phi_export_requests')
    .select('status')
    .where('clinic_id', '=', clinic.id)
    .where('id', '=', approval)
    .executeTakeFirst();
  if (request?.status === 'approved' && confirm === clinic.slug) {
    // The archive leaves through the approved path before anything is deleted: written, then offboarded.
    const archive = join(dirname((values.out as string | undefined) ?? '.'), `${clinic.slug}-export.tar.gz`);
    writeFileSync(archive, await downloadFullExport(p, clinic.id, approval, { kind: 'cli', userId: null }, null));
    console.log(`wrote ${archive} (full export under ${approval})`);
  }
  const certificate = await offboardClinic(p, clinic.id, { exportRequestId: approval, confirmSlug: confirm, operatorId: 'cli' });
  const out = (values.out as string | undefined) ?? `${clinic.slug}-deletion-certificate.json`;
  writeFileSync(out, `${JSON.stringify(certificate, null, 2)}\n`);
  console.log(`offboarded ${clinic.id}: ${certificate.body.totalRows} rows removed; certificate ${certificate.body.id} written to ${out}`);
  for (const b of certificate.body.backups) console.log(`  backups of ${b.region} still holding it expire by ${b.expiresBy}`);
  if (certificate.body.keys) console.log(`  ${certificate.body.keys.statement}`);
  return 0;
}
