import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FlagEngine } from './engine.js';
import type { UnleashContext, UnleashState, VariantResult } from './types.js';

/**
 * Unleash's client specification (npm `@unleash/client-specification`), run case by case against
 * FlagEngine. Files 19 and 20 test Unleash's delta-sync protocol, not evaluation, and do not apply.
 * The suite's README counts 227 `tests` and 52 `variantTests` over 22 files; without 19 and 20 that
 * is 223 + 52 = 275 evaluation cases, and this file fails if any of them is not run.
 */

interface SpecCase<T> {
  description: string;
  context: UnleashContext;
  toggleName: string;
  expectedResult: T;
}

interface SpecFile {
  name: string;
  state: UnleashState;
  tests?: SpecCase<boolean>[];
  variantTests?: SpecCase<VariantResult>[];
}

const NOT_EVALUATION = new Set(['19-delta-api-hydration.json', '20-delta-api-events.json']);
const EXPECTED_CASES = 275;

const require = createRequire(import.meta.url);
const specDir = join(dirname(require.resolve('@unleash/client-specification/package.json')), 'specifications');
const index = JSON.parse(readFileSync(join(specDir, 'index.json'), 'utf8')) as string[];
const files = index
  .filter((file) => !NOT_EVALUATION.has(file))
  .map((file) => ({ file, spec: JSON.parse(readFileSync(join(specDir, file), 'utf8')) as SpecFile }));

const found = files.reduce((sum, { spec }) => sum + (spec.tests?.length ?? 0) + (spec.variantTests?.length ?? 0), 0);
let executed = 0;

describe('Unleash client specification', () => {
  it('lists 22 files, of which 20 are about evaluation', () => {
    expect(index).toHaveLength(22);
    expect(files).toHaveLength(20);
    expect(found).toBe(EXPECTED_CASES);
  });

  for (const { file, spec } of files) {
    describe(file, () => {
      const engine = new FlagEngine(spec.state);
      for (const [n, test] of (spec.tests ?? []).entries()) {
        it(`isEnabled #${n + 1}: ${test.description}`, () => {
          executed++;
          expect(engine.isEnabled(test.toggleName, test.context)).toBe(test.expectedResult);
        });
      }
      for (const [n, test] of (spec.variantTests ?? []).entries()) {
        it(`getVariant #${n + 1}: ${test.description}`, () => {
          executed++;
          expect(engine.getVariant(test.toggleName, test.context)).toStrictEqual(test.expectedResult);
        });
      }
    });
  }

  // Declared last, so it runs after every case: a file that silently produced no tests (renamed
  // keys, a filter gone wrong) fails here.
  it('ran every case it found', () => {
    expect(executed).toBe(found);
  });
});
