import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../ids.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { loadRunscopeSuite, oktaVariables, RunscopeRunner, type StepResult } from '../../test/support/runscope-runner.js';
import { scimClinic, userBody } from '../../test/support/scim.js';

/**
 * Okta's SCIM 2.0 SPEC test (a Runscope export in ../shared/peer-suites/scim), step by step over real HTTP
 * against one clinic's SCIM endpoint on a pooled clinic. The suite expects what Okta's own test environment
 * has: at least one user and one group in the app before it starts. 16 requests, 91 assertions, the three
 * optional 405 checks included.
 */
const SUITE = fileURLToPath(new URL('../../../shared/peer-suites/scim/okta-scim20-spec-test.runscope.json', import.meta.url));
const EXPECTED_ASSERTIONS = 91;
const suite = loadRunscopeSuite(SUITE);
if (!suite) console.warn(`Skipping the Okta SCIM 2.0 SPEC test: suite not found at ${SUITE}`);
const requests = suite?.steps.filter((s) => s.step_type === 'request') ?? [];

describe.skipIf(!suite)(`Okta SCIM 2.0 SPEC test (peer-suites/scim/okta-scim20-spec-test.runscope.json)`, () => {
  let t: TestPlatform;
  let runner: RunscopeRunner;
  const evaluated: StepResult[] = [];

  beforeAll(async () => {
    t = await startTestPlatform();
    const clinic = await scimClinic(t, 'pooled');
    expect((await clinic.call('POST', '/Users', userBody())).statusCode).toBe(201);
    expect(
      (await clinic.call('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Nurses' }))
        .statusCode,
    ).toBe(201);
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    runner = new RunscopeRunner(oktaVariables(`${address}${clinic.base}`, clinic.token, newId('user')));
    // Warm the HTTP path once, as a deployed server is warm when Okta tests it (the suite times responses).
    await fetch(`${address}${clinic.base}/ServiceProviderConfig`, { headers: { authorization: `Bearer ${clinic.token}` } });
  });
  afterAll(() => t?.close());

  for (const [i, step] of requests.entries()) {
    it(`${i + 1}. ${step.method} ${step.url} — ${step.note ?? ''}`, async () => {
      const result = await runner.run(step);
      evaluated.push(result);
      const failed = result.assertions
        .filter((a) => !a.pass)
        .map(
          (a) =>
            `${a.assertion.source}${a.assertion.property ? ` ${a.assertion.property}` : ''} ${a.assertion.comparison} ${a.assertion.value ?? ''}: got ${JSON.stringify(a.actual)}`,
        );
      expect(
        [...failed, ...result.scriptFailures.map((f) => `script: ${f}`)],
        `status ${result.status}, body ${result.body.slice(0, 500)}`,
      ).toEqual([]);
    });
  }

  it(`evaluated all ${EXPECTED_ASSERTIONS} assertions of the ${requests.length} requests`, () => {
    expect(requests).toHaveLength(16);
    expect(evaluated).toHaveLength(requests.length);
    expect(evaluated.reduce((n, r) => n + r.assertions.length, 0)).toBe(EXPECTED_ASSERTIONS);
    expect(evaluated.flatMap((r) => r.assertions).filter((a) => a.pass)).toHaveLength(EXPECTED_ASSERTIONS);
  });
});
