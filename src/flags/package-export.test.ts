import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/**
 * The engine is a library too: `import { FlagEngine } from 'polyclinic/flags'` in plain Node (no TypeScript
 * loader), built by the same `build:flags` step that `npm pack` runs.
 */
describe('polyclinic/flags package export', () => {
  it('builds and evaluates from plain JavaScript', async () => {
    await run('npx', ['tsc', '-p', 'tsconfig.flags.json'], { cwd: process.cwd() });
    const script = `
      import { FlagEngine } from 'polyclinic/flags';
      const engine = new FlagEngine({
        features: [{ name: 'beta', enabled: true, strategies: [{ name: 'default', constraints: [{ contextName: 'clinicId', operator: 'IN', values: ['cln_a'] }] }] }],
        segments: [],
      });
      console.log(JSON.stringify([engine.isEnabled('beta', { clinicId: 'cln_a' }), engine.isEnabled('beta', { clinicId: 'cln_b' }), engine.getVariant('beta', { clinicId: 'cln_a' }).name]));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd() });
    expect(JSON.parse(stdout)).toEqual([true, false, 'disabled']);
  }, 120_000);
});
