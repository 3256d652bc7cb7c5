import type { Platform } from '../platform/platform.js';
import { exportClinic } from '../tenancy/export.js';
import { type ExportActor, recordDownload, redeemExport } from './requests.js';

/** Spends the approval, builds the full archive, and records the download; the approval stands if building fails. */
export async function downloadFullExport(
  p: Platform,
  clinicId: string,
  requestId: string,
  actor: ExportActor,
  token: string | null,
): Promise<Buffer> {
  const { reason, release } = await redeemExport(p, clinicId, requestId, actor, token);
  let archive: Buffer;
  try {
    archive = await exportClinic(p, clinicId, { reason, scope: 'full', approvalId: requestId });
  } catch (err) {
    await release();
    throw err;
  }
  await recordDownload(p, clinicId, requestId, actor.kind === 'cli' ? 'cli' : 'web');
  return archive;
}
