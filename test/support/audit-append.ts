import { canonicalPayload, type AuditDetail } from '../../src/audit/record.js';
import { AUDIT_REGION_MIGRATIONS, AUDIT_SCHEMA } from '../../src/audit/region-migration.js';
import { quoteIdent as q, withClient } from '../../src/db/pg.js';
import { newId } from '../../src/ids.js';

/** The canonical payload of a record as a patient list writes it: a user in a role, a request, an address, the query's shape. */
export const listPayload = (clinicId: string, requestId: string, detail: AuditDetail = { limit: 50 }): string =>
  canonicalPayload({
    clinicId,
    id: newId('audit'),
    recordedAt: new Date().toISOString(),
    action: 'search',
    outcome: 'success',
    actorId: 'usr_01JEXAMPLE0000000000000000',
    actorRole: 'physician',
    resourceType: 'Patient',
    resourceId: null,
    patientId: null,
    requestId,
    clientAddress: '203.0.113.7',
    purposeOfUse: 'TREAT',
    detail,
  });

/** Where `installReleasedAppend` puts the released body: `audit.append_released(clinic, payloads[])`. */
export const RELEASED_APPEND = `${q(AUDIT_SCHEMA)}.append_released`;

/**
 * Installs `audit.append` as audit migration 2 released it (a jsonb parse, a check and an INSERT per record),
 * beside the current one, in the region database `adminUrl` names, callable by `appRole`: the other side of
 * every comparison with today's function (the same chain must come out of both, and the benchmark compares
 * their cost in one run).
 */
export async function installReleasedAppend(adminUrl: string, appRole: string): Promise<void> {
  const body = AUDIT_REGION_MIGRATIONS.find((m) => m.version === 2)!
    .up(AUDIT_SCHEMA)
    .find((s) => s.includes(`${q(AUDIT_SCHEMA)}.append(`))!
    .replace(`${q(AUDIT_SCHEMA)}.append(`, `${RELEASED_APPEND}(`);
  await withClient(adminUrl, async (c) => {
    await c.query(body);
    await c.query(`grant execute on function ${RELEASED_APPEND}(text, text[]) to ${q(appRole)}`);
  });
}
