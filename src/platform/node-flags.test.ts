import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PLATFORM_NODE_FLAGS } from './node-flags.js';

describe('the API node runtime flags', () => {
  it('are the ones `npm start` passes to node', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    const start = pkg.scripts.start!.split(/\s+/);
    expect(start[0]).toBe('node');
    for (const flag of PLATFORM_NODE_FLAGS) expect(start).toContain(flag);
  });
});
