import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { ANONYMOUS, runWithContext } from './platform/request-context.js';

const capture = () => {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) }) };
};
const ctx = { requestId: 'req-1', clientAddress: null, purposeOfUse: 'TREAT' };

describe('log lines name the acting user and clinic from the request context', () => {
  it('as soon as the session and then the clinic scope have set them, and not outside a request', () => {
    const { lines, log } = capture();
    runWithContext({ ...ctx, actor: ANONYMOUS }, () => log.info('before sign-in'));
    const user = { kind: 'user', userId: 'usr_1', isOperator: false, clinicId: null, role: null } as const;
    runWithContext({ ...ctx, actor: user }, () => {
      log.info('signed in');
      runWithContext({ ...ctx, actor: { ...user, clinicId: 'cln_1', role: 'physician' } }, () =>
        log.child({ reqId: 'r' }).warn('in a clinic'),
      );
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
