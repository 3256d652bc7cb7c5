import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { scimClinic, type ScimClinic } from '../../test/support/scim.js';

/**
 * Microsoft's SCIM reference collection (Postman v2.1, used to validate Entra ID provisioning), run by newman
 * against one clinic's SCIM endpoint over real HTTP. Its "Get Token" request belongs to Microsoft's reference
 * server; it is left out of the run (in memory, the file is not changed) and the clinic's SCIM token is passed
 * instead. The collection counts users, so it runs on a clinic of its own that starts empty.
 */
const SUITE = fileURLToPath(new URL('../../../shared/peer-suites/scim/microsoft-scim-reference.postman.json', import.meta.url));
const present = existsSync(SUITE);
if (!present) console.warn(`Skipping Microsoft's SCIM reference collection: suite not found at ${SUITE}`);

interface PostmanItem {
  name: string;
  item?: PostmanItem[];
}
interface NewmanFailure {
  error: { name: string; test?: string; message: string };
  source?: { name?: string };
}
interface NewmanSummary {
  run: {
    stats: {
      requests: { total: number; failed: number };
      assertions: { total: number; failed: number };
      testScripts: { total: number; failed: number };
    };
    failures: NewmanFailure[];
  };
}
type Newman = { run(options: Record<string, unknown>, done: (err: Error | null, summary: NewmanSummary) => void): void };

function withoutGetToken(items: PostmanItem[]): PostmanItem[] {
  return items.filter((i) => i.name !== 'Get Token').map((i) => (i.item ? { ...i, item: withoutGetToken(i.item) } : i));
}

describe.skipIf(!present)("Microsoft's SCIM reference collection (peer-suites/scim/microsoft-scim-reference.postman.json)", () => {
  let t: TestPlatform;
  let clinic: ScimClinic;
  let address: URL;

  beforeAll(async () => {
    t = await startTestPlatform();
    clinic = await scimClinic(t, 'schema');
    address = new URL(await t.app.listen({ port: 0, host: '127.0.0.1' }));
  });
  afterAll(() => t?.close());

  it('every test block passes, run by newman over HTTP', async () => {
    const collection = JSON.parse(readFileSync(SUITE, 'utf8')) as { item: PostmanItem[] };
    const newman = createRequire(import.meta.url)('newman') as Newman;
    const summary = await new Promise<NewmanSummary>((resolve, reject) =>
      newman.run(
        {
          collection: { ...collection, item: withoutGetToken(collection.item) },
          environment: {
            values: [
              { key: 'Protocol', value: 'http' },
              { key: 'Server', value: address.hostname },
              { key: 'Port', value: `:${address.port}` },
              { key: 'Api', value: clinic.base.slice(1) },
              { key: 'token', value: clinic.token },
            ].map((v) => ({ ...v, enabled: true })),
          },
          reporters: [],
          timeoutRequest: 10_000,
        },
        (err, result) => (err ? reject(err) : resolve(result)),
      ),
    );
    const failures = summary.run.failures.map((f) => `${f.source?.name ?? '?'}: ${f.error.test ?? f.error.name}: ${f.error.message}`);
    const { assertions, requests } = summary.run.stats;
    console.info(
      `Microsoft SCIM collection: ${requests.total} requests, ${assertions.total - assertions.failed}/${assertions.total} test blocks passed`,
    );
    expect(failures).toEqual([]);
    // 108 test blocks in the collection, less the one of the "Get Token" request that is not run.
    expect(assertions.total).toBe(107);
    expect(requests.total).toBe(78);
  });
});
