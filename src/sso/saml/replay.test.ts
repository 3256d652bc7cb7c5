import { Kysely, PostgresDialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestSamlIdp, type TestSamlIdp } from '../../../test/support/saml-idp.js';
import { startTestPlatform, type TestPlatform } from '../../../test/support/platform.js';
import type { ControlDB } from '../../controlplane/schema.js';
import { newPool, urlWithDatabase } from '../../db/pg.js';
import { InMemoryReplayCache, PgReplayCache } from './replay.js';
import { REQUEST_ID, SP_A, expectRejected, forSp, validateA } from '../../../test/support/saml-sp.js';

/**
 * The assertion replay cache every API node shares, on the real control-plane table `saml_replay`. Two caches
 * with their own connection pools stand for two API nodes.
 */
let t: TestPlatform;
let otherNode: Kysely<ControlDB>;
let idp: TestSamlIdp;
beforeAll(async () => {
  t = await startTestPlatform();
  otherNode = new Kysely<ControlDB>({
    dialect: new PostgresDialect({ pool: newPool(urlWithDatabase(inject('pgAdminUrl'), `${t.instance}_control`), 4, 'replay-test') }),
  });
  idp = createTestSamlIdp({ entityId: 'https://idp.clinic-a.test/saml' });
});
afterAll(async () => {
  await otherNode?.destroy();
  await t?.close();
});

const inFive = (): Date => new Date(Date.now() + 5 * 60_000);

describe('PgReplayCache (saml_replay)', () => {
  it('remembers an assertion id once per connection, across nodes', async () => {
    const a = new PgReplayCache(t.p.control);
    const b = new PgReplayCache(otherNode);
    expect(await a.remember('ssc_1', '_assertion-1', inFive())).toBe(true);
    expect(await b.remember('ssc_1', '_assertion-1', inFive())).toBe(false);
    expect(await a.remember('ssc_1', '_assertion-1', inFive())).toBe(false);
    // Ids are an IdP's namespace: the same id from another connection is another assertion.
    expect(await b.remember('ssc_2', '_assertion-1', inFive())).toBe(true);
  });

  it('lets exactly one of many simultaneous uses win', async () => {
    const caches = [new PgReplayCache(t.p.control), new PgReplayCache(otherNode)];
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => caches[i % 2]!.remember('ssc_1', '_raced', inFive())));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('sweeps expired ids, and keeps live ones', async () => {
    const cache = new PgReplayCache(t.p.control, { sweepEveryMs: 0 });
    await cache.remember('ssc_sweep', '_old-1', new Date(Date.now() - 60_000));
    await cache.remember('ssc_sweep', '_old-2', new Date(Date.now() - 1000));
    await cache.remember('ssc_sweep', '_live', inFive()); // sweeps the two above on its way in
    const left = await t.p.control.selectFrom('saml_replay').select('assertion_id').where('connection_id', '=', 'ssc_sweep').execute();
    expect(left.map((r) => r.assertion_id)).toEqual(['_live']);
    expect(await cache.sweepNow()).toBe(0);
  });

  it('refuses a SAML response replayed on another API node, keeping the id until the assertion expires', async () => {
    const response = await idp.loginResponse({ sp: forSp(SP_A), nameId: 'dr.quinn@clinic-a.test', inResponseTo: REQUEST_ID });
    const login = await validateA(idp, response, { replay: new PgReplayCache(t.p.control) });
    await expectRejected(validateA(idp, response, { replay: new PgReplayCache(otherNode) }), 'replayed', /already used/);
    const row = await t.p.control
      .selectFrom('saml_replay')
      .selectAll()
      .where('assertion_id', '=', login.assertionId)
      .executeTakeFirstOrThrow();
    expect(row.connection_id).toBe('ssc_clinica');
    expect(row.expires_at.getTime()).toBe(login.notOnOrAfter!.getTime() + 3 * 60_000);
  });
});

describe('InMemoryReplayCache', () => {
  it('remembers until the deadline, then forgets', async () => {
    let now = new Date('2030-01-01T00:00:00Z');
    const cache = new InMemoryReplayCache(() => now);
    const until = new Date('2030-01-01T00:05:00Z');
    expect(await cache.remember('c', '_x', until)).toBe(true);
    expect(await cache.remember('c', '_x', until)).toBe(false);
    expect(await cache.remember('d', '_x', until)).toBe(true);
    now = new Date('2030-01-01T00:05:00Z');
    expect(await cache.remember('c', '_x', until)).toBe(true);
  });
});
