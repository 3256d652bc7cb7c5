import Fastify from 'fastify';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { errorHandler } from './problem.js';

/**
 * What the store's own errors become: one that says "try again" (here a connection an administrator ended, as a
 * failover or a failed move's clean-up does) is a retryable 503, never a 500; any other stays a 500 that names
 * nothing of the database.
 */
describe('store errors as problems', () => {
  const app = Fastify();
  app.setErrorHandler(errorHandler);
  const run = (sql: string) => async () => {
    const c = new pg.Client({ connectionString: inject('pgAdminUrl') });
    c.on('error', () => {});
    await c.connect();
    try {
      return (await c.query(sql)).rows;
    } finally {
      await c.end().catch(() => {});
    }
  };
  app.get('/terminated', run('select pg_terminate_backend(pg_backend_pid())'));
  app.get('/arithmetic', run('select 1 / 0'));

  it('a connection ended by the server answers 503 store_busy with Retry-After', async () => {
    const res = await app.inject({ method: 'GET', url: '/terminated' });
    expect(res.statusCode, res.body).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'store_busy', status: 503 });
  });

  it('any other database error stays an internal error', async () => {
    const res = await app.inject({ method: 'GET', url: '/arithmetic' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ code: 'internal_error' });
    expect(res.body).not.toContain('zero');
  });
});
