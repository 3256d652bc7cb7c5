import { describe, expect, it } from 'vitest';
import { canonicalPayload, type AuditRecord } from './record.js';

const record = (over: Partial<AuditRecord>): AuditRecord => ({
  clinicId: 'cln_x', id: 'aud_x', recordedAt: '2026-01-02T03:04:05.006Z', action: 'read', outcome: 'success', actorId: 'usr_x',
  actorRole: null, resourceType: 'Patient', resourceId: null, patientId: null, requestId: null, clientAddress: null, purposeOfUse: 'TREAT',
  detail: {}, ...over,
});

describe('canonicalPayload', () => {
  it('drops NUL and replaces lone surrogates in every string, keys of detail included', () => {
    const p = JSON.parse(canonicalPayload(record({ actorId: 'usr\u0000_x', requestId: 'r\uD800', resourceType: 'P\uDC00x', detail: { 'k\u0000': 'v\uDBFF' } })));
    expect(p).toMatchObject({ actorId: 'usr_x', requestId: 'r\uFFFD', resourceType: 'P\uFFFDx', detail: { k: 'v\uFFFD' } });
  });

  it('leaves plain strings and well-formed pairs as they are, and sorts detail keys', () => {
    const text = canonicalPayload(record({ clientAddress: '2001:db8::1', requestId: 'émoji 🩺', detail: { z: 1, a: 'ok' } }));
    expect(JSON.parse(text)).toMatchObject({ clientAddress: '2001:db8::1', requestId: 'émoji 🩺', detail: { a: 'ok', z: 1 } });
    expect(text.indexOf('"a"')).toBeLessThan(text.indexOf('"z"'));
  });
});
