import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { apiTypes, SCHEMA_FILE } from './api-types.js';

/** The web app's API types are generated from the app's OpenAPI document; a change to the API regenerates them. */
describe('web/src/api/schema.d.ts', () => {
  it('is what `npm run api-types` generates from the current API', async () => {
    const committed = readFileSync(SCHEMA_FILE, 'utf8');
    const current = await apiTypes();
    expect(committed === current, 'the API changed: run `npm run api-types` and commit web/src/api/schema.d.ts').toBe(true);
  });
});
