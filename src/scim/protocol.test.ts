import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { patchOp, scimClinic, userBody, type ScimClinic } from '../../test/support/scim.js';

/** RFC 7644 behaviour of one clinic's Users endpoint: filters, paging, PATCH paths, extension, meta, errors. */
let t: TestPlatform;
let c: ScimClinic;
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const ids: Record<string, string> = {};

beforeAll(async () => {
  t = await startTestPlatform();
  c = await scimClinic(t, 'pooled');
  const people = [
    ['grace', 'Hopper', 'grace@navy.example', 'E-1'],
    ['gregor', 'Mendel', 'gregor@abbey.example', 'E-2'],
    ['rosalind', 'Franklin', 'rosalind@kings.example', 'E-3'],
  ];
  for (const [user, family, email, ext] of people) {
    const res = await c.call(
      'POST',
      '/Users',
      userBody({
        userName: user,
        externalId: ext,
        name: { givenName: user, familyName: family },
        emails: [
          { value: email, type: 'work', primary: true },
          { value: `${user}@home.example`, type: 'home' },
        ],
      }),
    );
    expect(res.statusCode).toBe(201);
    ids[user!] = res.json().id;
  }
});
afterAll(() => t?.close());

const list = async (filter: string, extra = '') => {
  const res = await c.call('GET', `/Users?filter=${encodeURIComponent(filter)}${extra}`);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json().Resources as { userName: string }[]).map((r) => r.userName).sort();
};

describe('SCIM Users', () => {
  it('filters on userName, externalId and emails with eq, sw, co, pr, and, or, not and value paths', async () => {
    expect(await list('userName eq "GRACE"')).toEqual(['grace']);
    expect(await list('userName sw "gr"')).toEqual(['grace', 'gregor']);
    expect(await list('emails co "kings"')).toEqual(['rosalind']);
    expect(await list('externalId eq "E-2"')).toEqual(['gregor']);
    expect(await list('externalId eq "e-2"')).toEqual([]); // externalId is case-exact
    expect(await list('emails[type eq "work"].value eq "Grace@Navy.example"')).toEqual(['grace']);
    expect(await list('emails[type eq "work"].value eq "grace@home.example"')).toEqual([]); // one email must satisfy both
    expect(await list('emails[type eq "home" and value sw "rosa"]')).toEqual(['rosalind']);
    expect(await list('name.familyName eq Hopper or (userName ew "lind" and emails.value pr)')).toEqual(['grace', 'rosalind']);
    expect(await list('not (userName sw "g") and externalId pr')).toEqual(['rosalind']);
    expect(await list(`meta.created gt "2000-01-01T00:00:00Z" and id eq "${ids.gregor}"`)).toEqual(['gregor']);
  });

  it('rejects what it cannot read as 400 invalidFilter', async () => {
    for (const bad of [
      'userName',
      'userName eq',
      'nosuchattribute eq "x"',
      'active gt true',
      'emails[type eq "work"',
      'userName eq "a" xor userName eq "b"',
    ]) {
      const res = await c.call('GET', `/Users?filter=${encodeURIComponent(bad)}`);
      expect([bad, res.statusCode, res.json().scimType, res.json().status]).toEqual([bad, 400, 'invalidFilter', '400']);
    }
  });

  it('pages with startIndex and count', async () => {
    const page = (await c.call('GET', '/Users?startIndex=2&count=1')).json();
    expect(page).toMatchObject({ totalResults: 3, startIndex: 2, itemsPerPage: 1 });
    expect(page.Resources[0].userName).toBe('gregor');
    expect((await c.call('GET', '/Users?count=0')).json()).toMatchObject({ totalResults: 3, itemsPerPage: 0, Resources: [] });
    expect((await c.call('GET', '/Users?attributes=userName')).json().Resources[0]).toEqual({
      schemas: expect.any(Array),
      id: ids.grace,
      userName: 'grace',
    });
  });

  it('PATCH: filtered paths, capitalised ops, extension paths, path-less Entra values; errors name the problem', async () => {
    const id = ids.grace!;
    const ops = patchOp(
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'admiral@navy.example' },
      { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0100' },
      { op: 'replace', value: { 'name.givenName': 'Amazing Grace', [`${ENTERPRISE}:department`]: 'Cardiology', title: 'Rear Admiral' } },
      { op: 'add', path: `${ENTERPRISE}:manager`, value: { value: ids.gregor } },
      { op: 'remove', path: 'emails[type eq "home"]' },
    );
    const res = await c.call('PATCH', `/Users/${id}?attributes=emails,phoneNumbers,name,title,${ENTERPRISE}`, ops);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE],
      emails: [{ value: 'admiral@navy.example', type: 'work', primary: true }],
      phoneNumbers: [{ type: 'mobile', value: '+1 555 0100' }],
      name: { givenName: 'Amazing Grace', familyName: 'Hopper' },
      title: 'Rear Admiral',
      [ENTERPRISE]: { department: 'Cardiology', manager: { value: ids.gregor } },
    });
    const account = await t.p.control.selectFrom('users').select(['email']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(account.email).toBe('admiral@navy.example');
    for (const [op, scimType] of [
      [{ op: 'remove' }, 'noTarget'],
      [{ op: 'replace', path: 'nosuch', value: 1 }, 'invalidPath'],
      [{ op: 'replace', path: 'id', value: 'usr_x' }, 'mutability'],
      [{ op: 'replace', path: 'emails[value co "@"].primary', value: 'maybe' }, 'invalidValue'],
      [{ op: 'replace', path: 'emails[display co "x"].value', value: 'y' }, 'noTarget'],
      [{ op: 'replace', path: 'userName', value: 'GREGOR' }, 'uniqueness'],
    ] as const) {
      const bad = await c.call('PATCH', `/Users/${id}`, patchOp(op));
      expect([op, bad.json().scimType]).toEqual([op, scimType]);
    }
  });

  it('meta, ETags and preconditions', async () => {
    const got = await c.call('GET', `/Users/${ids.rosalind}`);
    const { meta } = got.json();
    expect(meta).toMatchObject({
      resourceType: 'User',
      location: expect.stringMatching(new RegExp(`/scim/v2/${c.clinicId}/Users/${ids.rosalind}$`)),
      version: got.headers.etag,
    });
    expect(Date.parse(meta.created)).toBeLessThanOrEqual(Date.parse(meta.lastModified));
    const cached = await t.app.inject({
      method: 'GET',
      url: `${c.base}/Users/${ids.rosalind}`,
      headers: { authorization: `Bearer ${c.token}`, 'if-none-match': String(got.headers.etag) },
    });
    expect(cached.statusCode).toBe(304);
    const stale = await t.app.inject({
      method: 'PATCH',
      url: `${c.base}/Users/${ids.rosalind}`,
      headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', 'if-match': 'W/"999"' },
      payload: patchOp({ op: 'replace', path: 'title', value: 'x' }),
    });
    expect([stale.statusCode, stale.json().status]).toEqual([412, '412']);
    const ok = await t.app.inject({
      method: 'PATCH',
      url: `${c.base}/Users/${ids.rosalind}`,
      headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', 'if-match': String(got.headers.etag) },
      payload: patchOp({ op: 'replace', path: 'title', value: 'Crystallographer' }),
    });
    expect([ok.statusCode, ok.headers.etag]).toEqual([204, 'W/"2"']);
  });

  it('discovery describes what the server does, one resource at a time too', async () => {
    const spc = (await c.call('GET', '/ServiceProviderConfig')).json();
    expect(spc).toMatchObject({
      patch: { supported: true },
      filter: { supported: true, maxResults: 200 },
      bulk: { supported: false },
      etag: { supported: true },
    });
    const user = (await c.call('GET', '/ResourceTypes/User')).json();
    expect(user).toMatchObject({
      endpoint: '/Users',
      schema: 'urn:ietf:params:scim:schemas:core:2.0:User',
      schemaExtensions: [{ schema: ENTERPRISE, required: false }],
    });
    const enterprise = (await c.call('GET', `/Schemas/${ENTERPRISE}`)).json();
    expect(enterprise.attributes.map((a: { name: string }) => a.name)).toEqual([
      'employeeNumber',
      'costCenter',
      'organization',
      'division',
      'department',
      'manager',
    ]);
    expect((await c.call('GET', '/Schemas/urn:nothing')).statusCode).toBe(404);
    const put = await c.call('PUT', '/ResourceTypes', {});
    expect([put.statusCode, put.headers.allow]).toEqual([405, 'GET']);
  });

  it('answers in SCIM error bodies, and accepts scim+json and plain JSON only', async () => {
    const dup = await c.call('POST', '/Users', userBody({ userName: 'Grace' }));
    expect(dup.json()).toEqual({ schemas: [ERROR], status: '409', scimType: 'uniqueness', detail: expect.stringContaining('userName') });
    expect(dup.headers['content-type']).toContain('application/scim+json');
    const noName = await c.call('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], name: { givenName: 'x' } });
    expect([noName.statusCode, noName.json().scimType]).toEqual([400, 'invalidValue']);
    const send = (type: string, payload: string) =>
      t.app.inject({
        method: 'POST',
        url: `${c.base}/Users`,
        headers: { authorization: `Bearer ${c.token}`, 'content-type': type },
        payload,
      });
    expect((await send('application/json', JSON.stringify(userBody()))).statusCode).toBe(201);
    expect((await send('application/scim+json; charset=utf-8', JSON.stringify(userBody()))).statusCode).toBe(201);
    expect((await send('text/plain', JSON.stringify(userBody()))).statusCode).toBe(415);
    const junk = await send('application/scim+json', '{"userName": tru');
    expect([junk.statusCode, junk.json().scimType]).toEqual([400, 'invalidSyntax']);
    for (const path of ['/Nothing/here', '', '/']) {
      const missing = await c.call('GET', path);
      expect([path, missing.statusCode, missing.json().schemas]).toEqual([path, 404, [ERROR]]);
    }
  });
});
