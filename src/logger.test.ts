import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { runWithContext } from './platform/request-context.js';

const capture = () => {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) }) };
};
const ctx = { requestId: 'req-1', clientAddress: null, userId: null as string | null, role: null, clinicId: null as string | null, purposeOfUse: 'TREAT' };

describe('log lines name the acting user and clinic from the request context', () => {
  it('as soon as the session and then the guard have set them, and not outside a request', () => {
    const { lines, log } = capture();
    const c = { ...ctx };
    runWithContext(c, () => {
      log.info('before sign-in');
      c.userId = 'usr_1';
      log.info('signed in');
      c.clinicId = 'cln_1';
      log.child({ reqId: 'r' }).warn('in a clinic');
    });
    log.info('no request');
    expect(lines.map(({ msg, userId, clinicId }) => ({ msg, userId, clinicId }))).toEqual([
      { msg: 'before sign-in', userId: undefined, clinicId: undefined },
      { msg: 'signed in', userId: 'usr_1', clinicId: undefined },
      { msg: 'in a clinic', userId: 'usr_1', clinicId: 'cln_1' },
      { msg: 'no request', userId: undefined, clinicId: undefined },
    ]);
  });
});
