import type { Selectable } from 'kysely';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import { newId } from '../ids.js';
import { type ClaimedJob, type JobQueue, PermanentJobFailure } from '../jobs/queue.js';
import type { JobWorker } from '../jobs/worker.js';
import type { TenantStores } from '../tenancy/stores.js';
import { fhirId, type FhirEnv } from './resource-def.js';
import { panelOf } from './resources/group.js';
import { resourceDef } from './resources.js';
import type { FhirExportsTable } from './migration.js';

/**
 * Bulk Data `$export` (FHIR Bulk Data Access 2.0, system, Patient and Group level): the request is recorded in
 * the clinic's store, the work runs as a job on the platform's fair queue (`src/jobs/`: per-clinic shares, so
 * one clinic's exports do not hold up another's; a lease, so an export whose node dies is taken up by another;
 * retries), and the ndjson it writes is kept in the store in parts of at most `PART_LINES` resources, served by
 * the file URLs of the status manifest. The job carries ids only (the export's, the group's); the data stays in
 * the clinic's region.
 */
export interface ExportRunner {
  /** Queues the work of an export just recorded; `groupId` (a provider's id) confines it to that panel. */
  submit(clinicId: string, exportId: string, groupId?: string): Promise<void>;
}

export const EXPORT_JOB = 'fhir.export';

export interface QueuedExportDeps {
  jobs: Pick<JobQueue, 'enqueue'>;
  worker: Pick<JobWorker, 'handle'>;
  stores: Pick<TenantStores, 'transaction'>;
  clinics: Pick<ClinicDirectory, 'get'>;
}

export class QueuedExportRunner implements ExportRunner {
  constructor(private readonly d: QueuedExportDeps) {
    d.worker.handle(EXPORT_JOB, (job) => this.run(job));
  }

  async submit(clinicId: string, exportId: string, groupId?: string): Promise<void> {
    await this.d.jobs.enqueue({
      kind: EXPORT_JOB,
      clinicId,
      key: `fhir-export:${exportId}`,
      payload: { exportId, ...(groupId ? { groupId } : {}) },
      maxAttempts: 3,
    });
  }

  private async run(job: ClaimedJob): Promise<void> {
    const exportId = String(job.payload.exportId);
    const groupId = typeof job.payload.groupId === 'string' ? job.payload.groupId : undefined;
    const row = await this.d.stores.transaction(job.clinicId, 'read', (scope) =>
      scope.db.selectFrom('fhir_exports').selectAll().where('id', '=', exportId).executeTakeFirst(),
    );
    // Deleted by its requester meanwhile, or finished by an attempt whose acknowledgement was lost.
    if (!row || row.status === 'completed') return;
    const clinic = await this.d.clinics.get(job.clinicId);
    if (!clinic) throw new PermanentJobFailure('The clinic is gone');
    const patients = groupId ? await this.d.stores.transaction(job.clinicId, 'read', (scope) => panelOf(scope, groupId)) : undefined;
    await runExport(this.d.stores, row, { clinic }, patients);
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
 * consistent; with `patients` (a Group's members), only their compartments. A retried attempt starts over (the
 * files of an interrupted one are dropped first). Returns how many resources of each type were written.
 */
export async function runExport(
  stores: Pick<TenantStores, 'transaction'>,
  row: ExportRow,
  env: FhirEnv,
  patients?: readonly string[],
): Promise<Record<string, number>> {
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
    await stores.transaction(row.clinic_id, 'write', (scope) =>
      scope.db.deleteFrom('fhir_export_files').where('export_id', '=', row.id).execute(),
    );
    for (const type of row.types) {
      const def = resourceDef(type)!;
      const params = new Map<string, string[]>();
      if (row.since && def.params._lastUpdated) params.set('_lastUpdated', [`ge${row.since.toISOString()}`]);
      if (patients) {
        if (!patients.length) continue;
        params.set(type === 'Patient' ? '_id' : 'patient', [
          patients.map((id) => (type === 'Patient' ? fhirId(id) : `Patient/${fhirId(id)}`)).join(','),
        ]);
      }
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
