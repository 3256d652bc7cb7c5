import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalPayload, chainHash, type AuditRecord } from './record.js';

const record = (over: Partial<AuditRecord>): AuditRecord => ({
  clinicId: 'cln_x',
  id: 'aud_x',
  recordedAt: '2026-01-02T03:04:05.006Z',
  action: 'read',
  outcome: 'success',
  actorId: 'usr_x',
  actorRole: null,
  resourceType: 'Patient',
  resourceId: null,
  patientId: null,
  requestId: null,
  clientAddress: null,
  purposeOfUse: 'TREAT',
  detail: {},
  ...over,
});

describe('canonicalPayload', () => {
  it('drops NUL and replaces lone surrogates in every string, keys of detail included', () => {
    const p = JSON.parse(
      canonicalPayload(
        record({ actorId: 'usr\u0000_x', requestId: 'r\uD800', resourceType: 'P\uDC00x', detail: { 'k\u0000': 'v\uDBFF' } }),
      ),
    );
    expect(p).toMatchObject({ actorId: 'usr_x', requestId: 'r\uFFFD', resourceType: 'P\uFFFDx', detail: { k: 'v\uFFFD' } });
  });

  it('leaves plain strings and well-formed pairs as they are, and sorts detail keys', () => {
    const text = canonicalPayload(record({ clientAddress: '2001:db8::1', requestId: 'émoji 🩺', detail: { z: 1, a: 'ok' } }));
    expect(JSON.parse(text)).toMatchObject({ clientAddress: '2001:db8::1', requestId: 'émoji 🩺', detail: { a: 'ok', z: 1 } });
    expect(text.indexOf('"a"')).toBeLessThan(text.indexOf('"z"'));
  });
});

/**
 * The link formula, pinned: records already in every region's trail were chained with it, by `audit.append`
 * in PostgreSQL, and must verify forever. The expected digest was computed three ways when this test was
 * written (node:crypto, `sha256sum`, and PostgreSQL's `sha256(convert_to(…, 'UTF8'))`), and is recomputed
 * here from the documented formula without going through `chainHash`.
 */
describe('chainHash', () => {
  const payload = canonicalPayload(
    record({
      clinicId: 'cln_01hzx3kq7m9v2w8r4t6y5p0n1a',
      id: 'aud_01hzx3m2c4e6g8j0k2m4p6r8s0',
      actorId: 'usr_01hzx3n5b7d9f1h3j5l7n9q1s3',
      actorRole: 'physician',
      resourceId: 'pat_01hzx3p8a0c2e4g6i8k0m2o4q6',
      patientId: 'pat_01hzx3p8a0c2e4g6i8k0m2o4q6',
      requestId: 'req-7',
      clientAddress: '203.0.113.9',
      detail: { z: 1, a: 'émoji 🩺' },
    }),
  );
  const prevHash = 'a'.repeat(64);

  it('hashes a fixed record to a fixed digest: sha256(prev_hash ":" seq ":" payload), hex', () => {
    expect(payload).toBe(
      '{"clinicId":"cln_01hzx3kq7m9v2w8r4t6y5p0n1a","id":"aud_01hzx3m2c4e6g8j0k2m4p6r8s0","recordedAt":"2026-01-02T03:04:05.006Z","action":"read",' +
        '"outcome":"success","actorId":"usr_01hzx3n5b7d9f1h3j5l7n9q1s3","actorRole":"physician","resourceType":"Patient",' +
        '"resourceId":"pat_01hzx3p8a0c2e4g6i8k0m2o4q6","patientId":"pat_01hzx3p8a0c2e4g6i8k0m2o4q6","requestId":"req-7","clientAddress":"203.0.113.9",' +
        '"purposeOfUse":"TREAT","detail":{"a":"émoji 🩺","z":1}}',
    );
    const independent = createHash('sha256')
      .update(Buffer.from(`${prevHash}:7:${payload}`, 'utf8'))
      .digest('hex');
    expect(independent).toBe('54a276f339e618090a802edf20e4c2b01398ec7e0c480c44b002afaded10e211');
    expect(chainHash(prevHash, 7, payload)).toBe('54a276f339e618090a802edf20e4c2b01398ec7e0c480c44b002afaded10e211');
  });

  it('changes with the previous hash and with the sequence number, not only with the payload', () => {
    const base = chainHash(prevHash, 7, payload);
    expect(chainHash('b'.repeat(64), 7, payload)).not.toBe(base);
    expect(chainHash(prevHash, 8, payload)).not.toBe(base);
  });
});
