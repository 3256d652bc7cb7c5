import { sql } from 'kysely';
import type { Clinic } from '../../src/controlplane/clinics.js';
import type { TenantStores } from '../../src/tenancy/stores.js';
import type { SurrogateKind } from '../../src/analytics/allow-lists.js';

/**
 * Waits until every outbox row of the clinics is final for the relay: written by a transaction older than the
 * oldest one still writing on the server (`src/analytics/relay-position.ts`). Other suites share the server,
 * and one of their transactions open while ours committed holds our rows back until it ends; a test that
 * expects a pass to send its rows waits for that first, so the pass is deterministic.
 */
export async function outboxSettled(stores: Pick<TenantStores, 'transaction'>, clinics: readonly Pick<Clinic, 'id'>[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (const clinic of clinics)
    for (;;) {
      const { rows } = await stores.transaction(clinic.id, 'read', (scope) =>
        sql<{ waiting: boolean }>`select exists (select from outbox where clinic_id = ${clinic.id}
          and tx >= pg_snapshot_xmin(pg_current_snapshot())) as waiting`.execute(scope.db),
      );
      if (!rows[0]?.waiting) break;
      if (Date.now() > deadline) throw new Error(`outbox of ${clinic.id} still held by an open transaction after 30 s`);
      await new Promise((r) => setTimeout(r, 25));
    }
}

/** The surrogate the clinic's store holds for a reference (the pairing never leaves it), or undefined. */
export async function surrogateOf(
  stores: Pick<TenantStores, 'transaction'>,
  clinicId: string,
  kind: SurrogateKind,
  ref: string,
): Promise<string | undefined> {
  const row = await stores.transaction(clinicId, 'read', (scope) =>
    scope.db.selectFrom('analytics_surrogates').select('surrogate').where('kind', '=', kind).where('ref', '=', ref).executeTakeFirst(),
  );
  return row?.surrogate;
}
