import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Transform, type Readable } from 'node:stream';

/**
 * Backups at rest: every file written to a backup location (base backups, archived WAL) is sealed with
 * AES-256-GCM under a key of its own, derived with HKDF from the region's backup key and a random salt kept in
 * the file's header. A key per file keeps GCM's nonce far from any reuse limit however many segments a region
 * archives, and the tag at the end makes a changed or truncated file fail to open rather than restore wrong.
 *
 *   "PCBK1\n" | salt (16) | iv (12) | ciphertext | tag (16)
 *
 * The location itself (a mounted volume, an object-store bucket synced from it) needs no trust beyond holding
 * the bytes: names say which segment or backup a file is, never whose data is in it.
 */

const MAGIC = Buffer.from('PCBK1\n');
const SALT = 16;
const IV = 12;
const TAG = 16;
const HEADER = MAGIC.length + SALT + IV;

/** The 32-byte key a region's backups are sealed under: its configured key, or one derived from the deployment secret. */
export function regionBackupKey(region: { id: string; backup: { key: string | undefined } }, secret: string | undefined): Buffer {
  const material = region.backup.key ?? secret;
  if (!material) throw new Error(`region ${region.id} has no backup key and the deployment has no secret to derive one`);
  const info = region.backup.key ? 'polyclinic backup key' : `polyclinic backup key for region ${region.id}`;
  return Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), info, 32));
}

function fileKey(key: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', key, salt, 'polyclinic sealed file', 32));
}

/**
 * Seals what `source` yields into `path`, atomically: written beside it under a temporary name, flushed, then
 * renamed, so a crash leaves either no file or a whole one. Returns the sealed size and the SHA-256 of the sealed
 * bytes (what the catalogue records to check a copy without the key).
 */
export async function sealToFile(key: Buffer, source: Readable, path: string): Promise<{ bytes: number; sha256: string }> {
  const salt = randomBytes(SALT);
  const iv = randomBytes(IV);
  const cipher = createCipheriv('aes-256-gcm', fileKey(key, salt), iv);
  const hash = createHash('sha256');
  let bytes = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const header = Buffer.concat([MAGIC, salt, iv]);
  const tmp = `${path}.partial-${randomBytes(4).toString('hex')}`;
  try {
    const out = createWriteStream(tmp, { mode: 0o600 });
    counted.write(header);
    await pipeline(
      source,
      cipher,
      new Transform({
        transform(chunk: Buffer, _enc, done) {
          done(null, chunk);
        },
        flush(done) {
          done(null, cipher.getAuthTag());
        },
      }),
      counted,
      out,
    );
    const fh = await open(tmp, 'r+');
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * The plaintext of a sealed file as a stream. The tag is read first (it is at the end), so the stream errors
 * at its end if any byte was changed; consumers write to a scratch place and use the result only once the
 * stream has finished cleanly.
 */
export async function openSealed(key: Buffer, path: string): Promise<Readable> {
  const { size } = await stat(path);
  if (size < HEADER + TAG) throw new Error(`${path} is not a sealed backup file (too short)`);
  const fh = await open(path, 'r');
  const head = Buffer.alloc(HEADER);
  const tag = Buffer.alloc(TAG);
  try {
    await fh.read(head, 0, HEADER, 0);
    await fh.read(tag, 0, TAG, size - TAG);
  } finally {
    await fh.close();
  }
  if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error(`${path} is not a sealed backup file`);
  const salt = head.subarray(MAGIC.length, MAGIC.length + SALT);
  const iv = head.subarray(MAGIC.length + SALT);
  const decipher = createDecipheriv('aes-256-gcm', fileKey(key, salt), iv);
  decipher.setAuthTag(tag);
  const body = createReadStream(path, { start: HEADER, end: size - TAG - 1 });
  body.on('error', (err) => decipher.destroy(err));
  return body.pipe(decipher);
}

/** Opens a sealed, gzipped file into a plain one (restores open archived WAL into the scratch server's reach). */
export async function unsealToFile(key: Buffer, sealed: string, path: string): Promise<void> {
  await pipeline(await openSealed(key, sealed), createGunzip(), createWriteStream(path, { mode: 0o600 }));
}
