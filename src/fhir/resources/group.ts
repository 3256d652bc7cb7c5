import type { Group } from '@medplum/fhirtypes';
import type { TenantScope } from '../../tenancy/tenant-db.js';
import { conditionsOf, fhirId, type ResourceDef } from '../resource-def.js';
import { idParam } from './common.js';

/**
 * Group: a provider's **panel**, the patients who have (or had) an appointment with that provider that was not
 * cancelled. It is what an EHR or a quality programme asks for when it wants "Dr Lee's patients" (and what
 * Group-level `$export` exports). A Group is not stored: it is computed from the appointments, one per
 * provider, with the provider's id (`Group/prv-…`, beside `Practitioner/prv-…`, its managing entity).
 * Members are listed in full (a panel is hundreds, not millions).
 */
const CANCELLED = ['cancelled'];

/** Our patient ids in a provider's panel. */
export async function panelOf(scope: TenantScope, providerId: string): Promise<string[]> {
  const rows = await scope.db
    .selectFrom('appointments')
    .select('patient_id')
    .distinct()
    .where('provider_id', '=', providerId)
    .where('status', 'not in', CANCELLED as never[])
    .orderBy('patient_id')
    .execute();
  return rows.map((r) => r.patient_id);
}

const params = { _id: idParam('p.id', 'provider') };

export const groupDef: ResourceDef = {
  type: 'Group',
  permission: 'patient.read',
  phi: true,
  params,
  async search(scope, q) {
    let query = scope.db.selectFrom('providers as p').select(['p.id', 'p.display_name']);
    for (const c of conditionsOf(params, q)) query = query.where(c);
    const providers = await query
      .orderBy('p.id')
      .limit(q.count + 1)
      .offset(q.offset)
      .execute();
    const groups: Group[] = [];
    for (const p of providers) {
      const members = await panelOf(scope, p.id);
      groups.push({
        resourceType: 'Group',
        id: fhirId(p.id),
        identifier: [{ system: 'urn:polyclinic:panel', value: p.id }],
        active: true,
        type: 'person',
        actual: true,
        name: `Panel of ${p.display_name}`,
        managingEntity: { reference: `Practitioner/${fhirId(p.id)}`, display: p.display_name },
        quantity: members.length,
        ...(members.length ? { member: members.map((id) => ({ entity: { reference: `Patient/${fhirId(id)}` } })) } : {}),
      });
    }
    return groups;
  },
  // A panel names many patients; each member is not one patient the record is about.
  patientOf: () => null,
};
