import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../access/guard.js';
import { AppError, conflict, notFound } from '../errors.js';
import { idSchema } from '../ids.js';
import { Problem, problemResponses } from '../http/problem.js';
import type { Platform } from '../platform/platform.js';
import { recordAccountEvent, userActor } from './account-audit.js';
import type { Principal } from './sessions.js';
import { TOTP_ISSUER, type TotpFactor } from './totp.js';
import { accountLocked } from './users.js';

const SixDigits = z.string().regex(/^\d{6}$/, 'must be the 6-digit code of the authenticator app');
const Code = z.strictObject({ code: SixDigits });
/** A current code, or, for someone whose phone is gone, one recovery code (it is spent). */
const Proof = z
  .strictObject({ code: SixDigits.optional(), recoveryCode: z.string().min(1).max(64).optional() })
  .refine((b) => (b.code === undefined) !== (b.recoveryCode === undefined), 'give either code or recoveryCode');
const RecoveryCodes = z.object({ recoveryCodes: z.array(z.string()).describe('shown once; each works once') });
const responses = { ...problemResponses, 429: Problem };
const security = [{ bearer: [] }];
const tags = ['auth'];

/**
 * TOTP self-service for the signed-in user of a local account. A wrong code here is 400 `invalid_mfa_code`
 * (not 401: the bearer token is fine, and clients sign out on 401); wrong codes for a confirmed factor count
 * toward the sign-in lockout, so a stolen session cannot guess its way to disabling MFA.
 */
export const mfaRoutes =
  (p: Platform, totp: TotpFactor): FastifyPluginAsyncZod =>
  async (app) => {
    const audit = (
      me: Principal,
      action: string,
      extra: { outcome?: 'failure'; reason?: string; before?: unknown; after?: unknown } = {},
    ) => recordAccountEvent(p.control, me.userId, { actor: userActor(me.userId), action, ...extra });

    /** Proof of the user's confirmed factor, or a refusal (recorded on the trail as a failed `action`). */
    const proveFactor = async (
      me: Principal,
      proof: { code?: string | undefined; recoveryCode?: string | undefined },
      action: string,
    ): Promise<void> => {
      if (!(await totp.isEnrolled(me.userId))) throw conflict('mfa_not_enrolled', 'TOTP is not enrolled for this account');
      const locked = await p.users.lockedSeconds(me.userId);
      if (locked) throw accountLocked(locked);
      let check: 'ok' | 'invalid' | 'reused';
      if (proof.code !== undefined) check = await totp.verify(me.userId, proof.code);
      else {
        const remaining = await totp.useRecoveryCode(me.userId, proof.recoveryCode ?? '');
        if (remaining !== null) await audit(me, 'mfa.recovery_code.used', { after: { remaining, for: action } });
        check = remaining === null ? 'invalid' : 'ok';
      }
      if (check === 'ok') return;
      await p.users.recordFailure(me.userId);
      const reason = check === 'reused' ? 'mfa_code_reused' : 'invalid_mfa_code';
      await audit(me, action, { outcome: 'failure', reason });
      throw check === 'reused'
        ? new AppError(400, 'mfa_code_reused', 'This code was already used; wait for the next one')
        : new AppError(400, 'invalid_mfa_code', 'The code is not correct');
    };

    app.post('/api/v1/auth/mfa/totp', {
      schema: {
        tags,
        summary: 'Start TOTP enrolment',
        security,
        description:
          'Starts TOTP enrolment (or restarts an unconfirmed one): a new secret to add to an authenticator app, then confirm it.',
        response: { 200: z.object({ secret: z.string().describe('base32'), otpauthUri: z.string(), issuer: z.string() }), ...responses },
      },
      handler: async (req) => {
        const me = principalOf(req);
        if (!(await p.users.hasPassword(me.userId)))
          throw conflict(
            'mfa_local_accounts_only',
            "This account signs in through its clinic's identity provider, which handles two-factor sign-in",
          );
        const enrolment = await totp.enrol({ id: me.userId, email: me.email });
        await audit(me, 'mfa.enrol', { after: { method: 'totp', issuer: TOTP_ISSUER, confirmed: false } });
        return enrolment;
      },
    });

    app.post('/api/v1/auth/mfa/totp/confirm', {
      schema: {
        tags,
        summary: 'Confirm TOTP enrolment with a current code',
        security,
        description:
          'Confirms enrolment with a current code. Returns ten recovery codes, shown this once. The current session then counts as two-factor.',
        body: Code,
        response: { 200: RecoveryCodes, ...responses },
      },
      handler: async (req) => {
        const me = principalOf(req);
        const codes = await totp.confirm(me.userId, req.body.code);
        if (codes === 'invalid') {
          await audit(me, 'mfa.confirm', { outcome: 'failure', reason: 'invalid_mfa_code' });
          throw new AppError(
            400,
            'invalid_mfa_code',
            'The code is not correct; check the app shows the account just added and the phone clock is right',
          );
        }
        // The holder of this session just proved possession of the factor: the session is two-factor from now on.
        if (me.authMethod === 'password') await p.sessions.upgrade(me, 'totp');
        await audit(me, 'mfa.confirm', { before: { enrolled: false }, after: { enrolled: true, recoveryCodes: codes.length } });
        return { recoveryCodes: codes };
      },
    });

    app.delete('/api/v1/auth/mfa/totp', {
      schema: {
        tags,
        summary: 'Turn TOTP off',
        security,
        description:
          'Turns TOTP off (a current code, or a recovery code when the phone is gone). Refused while any clinic of the user requires MFA.',
        body: Proof,
        response: { 204: z.null(), ...responses },
      },
      handler: async (req, reply) => {
        const me = principalOf(req);
        const requiring: string[] = [];
        for (const m of me.memberships) if ((await p.settings.effectiveFor(m.clinicId)).security.mfaRequired) requiring.push(m.clinicId);
        if (requiring.length)
          throw new AppError(
            409,
            'mfa_required_by_clinic',
            'A clinic you belong to requires two-factor sign-in, so TOTP cannot be turned off',
            { clinics: requiring },
          );
        await proveFactor(me, req.body, 'mfa.disable');
        await totp.disable(me.userId);
        await audit(me, 'mfa.disable', { before: { enrolled: true }, after: { enrolled: false } });
        return reply.code(204).send(null);
      },
    });

    app.post('/api/v1/auth/mfa/recovery-codes', {
      schema: {
        tags,
        summary: 'Replace the recovery codes',
        security,
        description:
          'Replaces every recovery code with ten new ones (proof: a current code, or one recovery code); the old ones stop working.',
        body: Proof,
        response: { 200: RecoveryCodes, ...responses },
      },
      handler: async (req) => {
        const me = principalOf(req);
        await proveFactor(me, req.body, 'mfa.recovery_codes.regenerate');
        const codes = await totp.regenerateRecoveryCodes(me.userId);
        await audit(me, 'mfa.recovery_codes.regenerate', { after: { recoveryCodes: codes.length } });
        return { recoveryCodes: codes };
      },
    });
  };

/**
 * The operator's side: resetting the factor of a user who lost both phone and recovery codes, inside the
 * operator-scoped plugin (`http/operator-scope.ts`). Recorded on the user's account trail with the reason.
 */
export const mfaResetRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    const { totp } = p;

    app.delete('/users/:userId/mfa', {
      schema: {
        tags: ['platform'],
        summary: "Reset a user's two-factor sign-in (operators only)",
        description:
          'Removes the TOTP factor and recovery codes of a user who lost both (operators only, after verifying who they are). The user then signs in with the password and enrols again.',
        params: z.strictObject({ userId: idSchema('user') }),
        body: z.strictObject({ reason: z.string().trim().min(3, 'say why (at least 3 characters)').max(500) }),
        response: { 204: z.null(), ...responses },
      },
      handler: async (req, reply) => {
        const { userId } = req.params;
        if (!(await p.users.byId(userId))) throw notFound('user');
        const enrolled = await totp.isEnrolled(userId);
        await totp.disable(userId);
        await recordAccountEvent(p.control, userId, {
          actor: userActor(req.principal!.userId),
          action: 'mfa.reset',
          reason: req.body.reason,
          before: { enrolled },
          after: { enrolled: false },
        });
        return reply.code(204).send(null);
      },
    });
  };
