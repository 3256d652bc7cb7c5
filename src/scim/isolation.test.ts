import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, STAFF_PASSWORD, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { orderedPairs, pairName, placed } from '../../test/support/placements.js';
import { patchOp, scimClinic, userBody, type ScimClinic } from '../../test/support/scim.js';

/**
 * One clinic's directory token reaches that clinic's directory only. Clinic A is pooled, clinic B has its own
 * database, clinic C is pooled beside A in us-east's store: SCIM data lives in the control plane either way,
 * and the token, not the placement, decides. Every ordered pair of the three is tried.
 */
let t: TestPlatform;
interface Directory extends ScimClinic {
  label: string;
  /** A provisioned user, and a group holding it. */
  user: string;
  group: string;
}
const PLAN = placed([
  ['pooled', 'us-east'],
  ['database', 'us-east'],
  ['pooled', 'us-east'],
]);
const directories: Directory[] = [];
let a: ScimClinic;
let b: ScimClinic;
beforeAll(async () => {
  t = await startTestPlatform();
  for (const { placement, label } of PLAN) {
    const x = await scimClinic(t, placement);
    const user = (await x.call('POST', '/Users', userBody())).json().id;
    const group = (await x.call('POST', '/Groups', { displayName: `${label} nurses`, members: [{ value: user }] })).json().id;
    directories.push({ ...x, label, user, group });
  }
  [a, b] = directories as [Directory, Directory];
});
afterAll(() => t?.close());

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

for (const [ai, bi] of orderedPairs(PLAN.map((_, i) => i)))
  describe(`SCIM clinic isolation, ${pairName(PLAN[ai]!, PLAN[bi]!)}`, () => {
    // Here A and B are the pair's clinics.
    let a: Directory;
    let b: Directory;
    let bUser: string;
    let bGroup: string;
    beforeAll(() => {
      a = directories[ai]!;
      b = directories[bi]!;
      ({ user: bUser, group: bGroup } = b);
    });

    it("clinic A's token on clinic B's endpoint is 401 for every method, with no data", async () => {
      const attempts = [
        b.call('GET', '/Users', undefined, a.token),
        b.call('GET', `/Users/${bUser}`, undefined, a.token),
        b.call('GET', '/Groups', undefined, a.token),
        b.call('POST', '/Users', userBody(), a.token),
        b.call('PUT', `/Users/${bUser}`, userBody(), a.token),
        b.call('PATCH', `/Users/${bUser}`, patchOp({ op: 'replace', path: 'active', value: false }), a.token),
        b.call('DELETE', `/Groups/${bGroup}`, undefined, a.token),
        b.call('GET', '/ServiceProviderConfig', undefined, a.token),
      ];
      for (const res of await Promise.all(attempts)) {
        expect(res.statusCode).toBe(401);
        expect(res.json()).toEqual({ schemas: [ERROR], status: '401', detail: expect.any(String) });
        expect(res.body).not.toContain(bUser);
      }
      expect((await b.call('GET', `/Users/${bUser}`)).json().active).toBe(true);
    });

    it("B's ids in A's paths are 404; A's filters and groups cannot reach B's users", async () => {
      for (const [method, path, body] of [
        ['GET', `/Users/${bUser}`, undefined],
        ['PUT', `/Users/${bUser}`, userBody()],
        ['PATCH', `/Users/${bUser}`, patchOp({ op: 'replace', path: 'active', value: false })],
        ['DELETE', `/Users/${bUser}`, undefined],
        ['GET', `/Groups/${bGroup}`, undefined],
        ['PATCH', `/Groups/${bGroup}`, patchOp({ op: 'remove', path: 'members' })],
        ['DELETE', `/Groups/${bGroup}`, undefined],
      ] as const) {
        const res = await a.call(method, path, body);
        expect([method, path, res.statusCode, res.json().schemas]).toEqual([method, path, 404, [ERROR]]);
      }
      const filtered = await a.call('GET', `/Users?filter=${encodeURIComponent(`id eq "${bUser}" or userName pr`)}`);
      expect(filtered.body).not.toContain(bUser);
      // A member reference to another clinic's user is ignored, as if the id did not exist.
      const g = await a.call('POST', '/Groups', { displayName: 'A group', members: [{ value: bUser }] });
      expect([g.statusCode, g.json().members]).toEqual([201, []]);
      await a.call('PATCH', `/Groups/${g.json().id}`, patchOp({ op: 'add', path: 'members', value: [{ value: bUser }] }));
      expect((await a.call('GET', `/Groups/${g.json().id}`)).json().members).toEqual([]);
      expect((await b.call('GET', `/Groups/${bGroup}`)).json().members.map((m: { value: string }) => m.value)).toEqual([bUser]);
    });

    it("A's own lists and gets show A's users and groups, none of B's", async () => {
      const users = (await a.call('GET', '/Users')).json().Resources.map((r: { id: string }) => r.id);
      expect(users).toContain(a.user);
      expect(users).not.toContain(bUser);
      const groups = (await a.call('GET', '/Groups')).json().Resources.map((r: { id: string }) => r.id);
      expect(groups).toContain(a.group);
      expect(groups).not.toContain(bGroup);
      const own = await a.call('GET', `/Users/${a.user}`);
      expect([own.statusCode, own.json().id]).toEqual([200, a.user]);
      expect((await a.call('GET', `/Groups/${a.group}`)).json().members.map((m: { value: string }) => m.value)).toEqual([a.user]);
    });
  });

describe(`SCIM tokens, ${PLAN[0]!.label} and ${PLAN[1]!.label}`, () => {
  it('unknown, malformed, revoked and user-session tokens are 401', async () => {
    const session = await t.login((await t.staff(a.clinicId, 'clinic_admin')).email, STAFF_PASSWORD);
    for (const token of ['pcscim_madeup', 'garbage', session, ''])
      expect((await a.call('GET', '/Users', undefined, token)).statusCode).toBe(401);
    const res = await t.app.inject({ method: 'GET', url: `${a.base}/Users` });
    expect([res.statusCode, res.headers['www-authenticate']]).toEqual([401, 'Bearer realm="scim"']);

    const spare = (await a.api('POST', '/scim/tokens', { label: 'spare' })).json();
    expect((await a.call('GET', '/Users', undefined, spare.token)).statusCode).toBe(200);
    const listed = (await a.api('GET', '/scim/tokens')).json().tokens;
    expect(JSON.stringify(listed)).not.toContain(spare.token);
    expect(listed.find((x: { id: string }) => x.id === spare.id).lastUsedAt).not.toBeNull();
    // B's admin cannot revoke A's token (it does not exist for them); A's admin can, and it stops at once.
    expect((await b.api('DELETE', `/scim/tokens/${spare.id}`)).statusCode).toBe(404);
    expect((await a.api('DELETE', `/scim/tokens/${spare.id}`)).statusCode).toBe(204);
    expect((await a.call('GET', '/Users', undefined, spare.token)).statusCode).toBe(401);
    const stored = await t.p.control.selectFrom('scim_tokens').select(['token_hash']).where('id', '=', spare.id).executeTakeFirstOrThrow();
    expect(stored.token_hash).not.toContain(spare.token.slice(7));
  });

  it("a directory cannot claim another clinic's staff by email: 409 uniqueness, nothing created or changed", async () => {
    const staffOfB = await t.staff(b.clinicId, 'physician');
    const res = await a.call(
      'POST',
      '/Users',
      userBody({ emails: [{ value: staffOfB.email.toUpperCase(), type: 'work', primary: true }] }),
    );
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ schemas: [ERROR], status: '409', scimType: 'uniqueness' });
    expect(await t.login(staffOfB.email, STAFF_PASSWORD)).toMatch(/^pcs_/);
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(staffOfB.token) });
    expect(me.json().memberships).toEqual([expect.objectContaining({ clinicId: b.clinicId, role: 'physician' })]);
    // Within one clinic, two directory entries may share a mailbox: the second account gets a placeholder.
    const first = await a.call('POST', '/Users', userBody({ emails: [{ value: 'shared@ward.example', type: 'work' }] }));
    const second = await a.call('POST', '/Users', userBody({ emails: [{ value: 'shared@ward.example', type: 'work' }] }));
    expect([first.statusCode, second.statusCode]).toEqual([201, 201]);
    expect(second.json().emails[0].value).toBe('shared@ward.example');
  });
});
