import type { Selectable } from 'kysely';
import { newId } from '../ids.js';
import type { TenantStores } from '../tenancy/stores.js';
import type { FhirEnv } from './resource-def.js';
import { resourceDef } from './resources.js';
import type { FhirExportsTable } from './migration.js';

/**
 * Bulk Data `$export` (FHIR Bulk Data Access 2.0, system and Patient level): the request is recorded in the
 * clinic's store, the work runs asynchronously, and the ndjson it writes is kept in the store in parts of at
 * most `PART_LINES` resources, served by the file URLs of the status manifest.
 *
 * Where the work runs is one seam, `ExportRunner`. Today it is in-process, one export at a time per node: an
 * export interrupted by a restart stays `in_progress` and must be asked for again. When the platform's fair
 * job queue lands, a runner that enqueues there (per-clinic shares, retries) replaces this one unchanged.
 */
export interface ExportRunner {
  submit(job: () => Promise<void>): void;
}

export class InProcessExportRunner implements ExportRunner {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly log: { error(obj: object, msg: string): void }) {}

  submit(job: () => Promise<void>): void {
    this.tail = this.tail.then(job).catch((err) => this.log.error({ err }, 'FHIR export failed'));
  }

  /** Resolves once every export submitted so far has finished (tests; shutdown). */
  idle(): Promise<void> {
    return this.tail;
  }
}

const PART_LINES = 5_000;
const PAGE = 200;

/** Types a Patient-level export holds: those in the patient compartment. */
export const PATIENT_COMPARTMENT = [
  'Patient',
  'Appointment',
  'Encounter',
  'Observation',
  'Condition',
  'MedicationRequest',
  'DocumentReference',
  'QuestionnaireResponse',
];

export type ExportRow = Selectable<FhirExportsTable>;

export async function startExport(
  stores: Pick<TenantStores, 'transaction'>,
  clinicId: string,
  request: { level: 'system' | 'patient'; types: string[]; since: Date | null; requestedBy: string; requestUrl: string },
): Promise<ExportRow> {
  return stores.transaction(clinicId, 'write', (scope) =>
    scope.db
      .insertInto('fhir_exports')
      .values({
        clinic_id: clinicId,
        id: newId('fhirExport'),
        level: request.level,
        types: request.types,
        since: request.since,
        requested_by: request.requestedBy,
        request_url: request.requestUrl,
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
}

/**
 * Writes every resource of the export's types, type by type, each read in one snapshot so a type's file is
 * consistent. Returns how many resources of each type were written.
 */
export async function runExport(stores: Pick<TenantStores, 'transaction'>, row: ExportRow, env: FhirEnv): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const setStatus = (status: ExportRow['status'], error: string | null = null) =>
    stores.transaction(row.clinic_id, 'write', (scope) =>
      scope.db
        .updateTable('fhir_exports')
        .set({ status, error, ...(status === 'completed' || status === 'failed' ? { completed_at: new Date() } : {}) })
        .where('id', '=', row.id)
        .execute(),
    );
  try {
    await setStatus('in_progress');
    for (const type of row.types) {
      const def = resourceDef(type)!;
      const params = new Map<string, string[]>();
      if (row.since && def.params._lastUpdated) params.set('_lastUpdated', [`ge${row.since.toISOString()}`]);
      const lines = await stores.transaction(row.clinic_id, 'snapshot', async (scope) => {
        const out: string[] = [];
        for (let offset = 0; ; offset += PAGE) {
          const page = await def.search(scope, { params, count: PAGE, offset, include: [] }, env);
          for (const r of page.slice(0, PAGE)) out.push(JSON.stringify(r));
          if (page.length <= PAGE) return out;
        }
      });
      counts[type] = lines.length;
      await stores.transaction(row.clinic_id, 'write', async (scope) => {
        for (let part = 0; part * PART_LINES < lines.length; part++) {
          const chunk = lines.slice(part * PART_LINES, (part + 1) * PART_LINES);
          await scope.db
            .insertInto('fhir_export_files')
            .values({
              clinic_id: row.clinic_id,
              export_id: row.id,
              resource_type: type,
              part,
              lines: chunk.length,
              ndjson: `${chunk.join('\n')}\n`,
            })
            .execute();
        }
      });
    }
    await setStatus('completed');
  } catch (err) {
    await setStatus('failed', err instanceof Error ? err.message.slice(0, 500) : 'failed').catch(() => {});
    throw err;
  }
  return counts;
}
