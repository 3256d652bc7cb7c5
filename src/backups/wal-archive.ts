import { access, readdir } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createGzip } from 'node:zlib';
import { ensureLayout, walFile, type BackupSet } from './location.js';
import { sealToFile } from './sealed-file.js';

/**
 * PostgreSQL's `archive_command` for a backed-up server:
 *
 *   archive_command = '/path/to/polyclinic/node_modules/.bin/tsx /path/to/polyclinic/src/backups/archive-command.ts <region> %p %f'
 *
 * run with the deployment's POLYCLINIC_* variables in the server's environment (the region's backup location
 * and key are read with the one config loader). Each completed WAL segment is sealed into the region's
 * location before PostgreSQL may recycle it; a non-zero exit makes PostgreSQL keep the segment and retry.
 * A segment already in the archive is left as it is: PostgreSQL retries a segment whose earlier archiving
 * succeeded but was not acknowledged (a crash between the two), and the sealed copy is the same segment.
 */
export async function archiveWalSegment(set: BackupSet, path: string, name: string): Promise<'archived' | 'present'> {
  if (!/^[0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?$|^[0-9A-F]{8}\.history$/.test(name))
    throw new Error(`not a WAL file name: ${name}`);
  const target = walFile(set, name);
  if (await exists(target)) return 'present';
  await ensureLayout(set);
  // Gzipped first: a segment closed early by a switch is mostly zeros.
  await sealToFile(set.key, createReadStream(path).pipe(createGzip()), target);
  return 'archived';
}

/** Names of the WAL files in a set's archive, in WAL order. */
export async function archivedWal(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => n.endsWith('.sealed'))
    .map((n) => n.slice(0, -'.sealed'.length))
    .sort();
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
