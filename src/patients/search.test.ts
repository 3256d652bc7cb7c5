import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/** Patient search as a front desk types it, and several patients read by id, in a pooled and a database clinic. */
let t: TestPlatform;
const clinics: { id: string; token: string; ids: Record<string, string> }[] = [];

beforeAll(async () => {
  t = await startTestPlatform();
  for (const placement of ['pooled', 'database'] as const) {
    const clinic = await t.clinic({ placement });
    const { token } = await t.staff(clinic.id, 'scheduler');
    const ids: Record<string, string> = {};
    for (const [given, family, mrn] of [
      ['Rosalind', 'Franklin', 'MRN-100'],
      ['Rosa', 'Parks', 'MRN-200'],
      ['Francis', 'Crick', 'X_1%'],
    ] as const) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/api/v1/clinics/${clinic.id}/patients`,
        headers: bearer(token),
        payload: { givenName: given, familyName: family, birthDate: '1970-01-01', mrn },
      });
      expect(res.statusCode).toBe(201);
      ids[family] = res.json().id;
    }
    clinics.push({ id: clinic.id, token, ids });
  }
});
afterAll(() => t?.close());

const search = (c: { id: string; token: string }, query: string) =>
  t.app.inject({ method: 'GET', url: `/api/v1/clinics/${c.id}/patients?${query}`, headers: bearer(c.token) });
const names = (res: { json(): { items: { familyName: string }[] } }) => res.json().items.map((p) => p.familyName);

describe('patient search', () => {
  it('matches every word at the start of a name, case-insensitively, ordered by name', async () => {
    for (const c of clinics) {
      expect(names(await search(c, 'q=ros'))).toEqual(['Franklin', 'Parks']);
      expect(names(await search(c, 'q=ROS%20fra'))).toEqual(['Franklin']);
      expect(names(await search(c, 'q=mrn-2'))).toEqual(['Parks']);
      expect(names(await search(c, 'q=anklin'))).toEqual([]);
    }
  });

  it('treats LIKE wildcards as text', async () => {
    const c = clinics[0]!;
    expect(names(await search(c, `q=${encodeURIComponent('X_1%')}`))).toEqual(['Crick']);
    expect(names(await search(c, `q=${encodeURIComponent('%%')}`))).toEqual([]);
    expect(names(await search(c, `q=${encodeURIComponent('X%')}`))).toEqual([]);
  });

  it('reads several patients by id; another clinic’s ids find nothing', async () => {
    const [a, b] = clinics as [(typeof clinics)[0], (typeof clinics)[0]];
    const res = await search(a, `ids=${a.ids.Crick},${a.ids.Parks},${b.ids.Franklin}`);
    expect(res.statusCode).toBe(200);
    expect(names(res)).toEqual(['Crick', 'Parks']);
  });

  it('refuses a NUL byte, a one-letter search and malformed ids with 400', async () => {
    const c = clinics[0]!;
    for (const q of ['q=ab%00cd', 'q=a', 'ids=pat_nope', `ids=${'x'.repeat(1900)}`]) expect((await search(c, q)).statusCode, q).toBe(400);
  });

  it('is 404 for a member of another clinic', async () => {
    const [a, b] = clinics as [(typeof clinics)[0], (typeof clinics)[0]];
    const res = await search({ id: b.id, token: a.token }, 'q=ros');
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('clinic_not_found');
  });
});
