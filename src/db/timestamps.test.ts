import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isoTimestamp } from './timestamps.js';

let client: pg.Client;
beforeAll(async () => {
  client = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await client.connect();
});
afterAll(() => client?.end());

/** Each value as PostgreSQL's text and as the Date node-postgres makes of it, in the session's time zone. */
async function both(zone: string, values: string[]): Promise<{ text: string; date: Date }[]> {
  await client.query(`set time zone '${zone}'`);
  const r = await client.query<{ text: string; date: Date }>('select v::text as text, v as date from unnest($1::timestamptz[]) as v', [
    values,
  ]);
  return r.rows;
}

describe('isoTimestamp', () => {
  const values = [
    '2026-01-02 03:04:05+00',
    '2026-01-02 03:04:05.1+00',
    '2026-01-02 03:04:05.12+00',
    '2026-01-02 03:04:05.999999+00',
    '2026-01-02 03:04:05.000001+00',
    '2024-02-29 23:59:59.5+00',
    '1970-01-01 00:00:00+00',
    '0099-06-15 12:00:00.25+00',
    '12026-01-02 03:04:05.678+00',
    '0044-03-15 12:00:00+00 BC',
  ];

  it('writes what Date.toISOString writes for the same instant, at the microsecond edges', async () => {
    const micro = Array.from(
      { length: 500 },
      (_, i) =>
        `2026-03-29 01:59:${String(i % 60).padStart(2, '0')}.${String(i * 1999)
          .padStart(6, '0')
          .slice(0, 6)}+00`,
    );
    for (const row of await both('UTC', [...values, ...micro])) expect(isoTimestamp(row.text)).toBe(row.date.toISOString());
  });

  it('gives the same answer when the session writes another time zone', async () => {
    for (const zone of ['Asia/Kolkata', 'America/St_Johns', 'Europe/Berlin'])
      for (const row of await both(zone, values)) {
        expect(row.text).not.toMatch(/\+00$/);
        expect(isoTimestamp(row.text)).toBe(row.date.toISOString());
      }
  });
});
