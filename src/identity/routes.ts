import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../access/guard.js';
import { RoleKey, roleNames } from '../access/clinic-roles.js';
import { clinicLook } from '../branding/look.js';
import type { Platform } from '../platform/platform.js';
import { Problem, problemResponses, sendProblem } from '../http/problem.js';
import { userActor } from './account-audit.js';
import { identityAuditRoutes } from './audit-routes.js';
import { mfaRoutes } from './mfa-routes.js';

const Membership = z.object({ clinicId: z.string(), role: z.string() });
const User = z.object({ id: z.string(), email: z.string(), name: z.string(), isOperator: z.boolean() });
const Me = z.object({ user: User, memberships: z.array(Membership) });
const SignedIn = Me.extend({ token: z.string(), expiresAt: z.string() });
const AuthMethod = z.enum(['password', 'totp', 'recovery_code', 'saml', 'oidc']);
const SignInProblem = Problem.extend({
  challenge: z.string().optional().describe('with code `mfa_required`: send it to POST /api/v1/auth/login/mfa with a code'),
  challengeExpiresAt: z.string().optional(),
  attemptsLeft: z.number().int().optional(),
  retryAfter: z.number().int().optional(),
});
const signInResponses = { 200: SignedIn, ...problemResponses, 401: SignInProblem, 429: SignInProblem };
const security = [{ bearer: [] }];
/** Which clinics and roles; the effective permissions stay server-side (`GET …/roles` explains a role). */
const membershipsView = (ms: readonly { clinicId: string; role: string }[]) => ms.map(({ clinicId, role }) => ({ clinicId, role }));

/** Each membership with what a clinic switcher shows: the clinic's address and name, and the role's name. */
async function clinicsOf(p: Platform, memberships: { clinicId: string; role: string }[]) {
  const names = await roleNames(p.control, memberships);
  const out = [];
  for (const m of memberships) {
    const clinic = await p.clinics.get(m.clinicId);
    if (!clinic) continue;
    out.push({
      ...m,
      clinicSlug: clinic.slug,
      clinicName: (await clinicLook(p.settings, clinic)).displayName,
      roleName: names.get(`${m.clinicId}/${m.role}`) ?? m.role,
    });
  }
  return out;
}

export const identityRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    const { totp, signIn } = p;

    app.post('/api/v1/auth/login', {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with email and password',
        description:
          'Signs in with a password. An account with TOTP enrolled gets 401 `mfa_required` with a `challenge` to finish at POST /api/v1/auth/login/mfa.',
        body: z.strictObject({ email: z.string().email().max(320), password: z.string().min(1).max(1024) }),
        response: signInResponses,
      },
      handler: async (req, reply) => {
        const step = await signIn.password(req.body.email, req.body.password);
        if (step.kind === 'second_factor')
          return sendProblem(
            req,
            reply,
            401,
            'mfa_required',
            'This account uses two-factor sign-in: send a code from the authenticator app, or a recovery code, with the challenge to POST /api/v1/auth/login/mfa',
            {
              challenge: step.challenge,
              challengeExpiresAt: step.expiresAt,
            },
          );
        req.log.info({ userId: step.session.user.id, authMethod: 'password' }, 'signed in');
        return step.session;
      },
    });

    app.post('/api/v1/auth/login/mfa', {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Finish a sign-in with a second factor',
        description: 'Finishes a sign-in that answered `mfa_required`: the challenge with a 6-digit TOTP code or one recovery code.',
        body: z
          .strictObject({
            challenge: z.string().min(1).max(200),
            code: z
              .string()
              .regex(/^\d{6}$/, 'must be the 6-digit code of the authenticator app')
              .optional(),
            recoveryCode: z.string().min(1).max(64).optional(),
          })
          .refine((b) => (b.code === undefined) !== (b.recoveryCode === undefined), 'give either code or recoveryCode'),
        response: signInResponses,
      },
      handler: async (req) => {
        const { challenge, code, recoveryCode } = req.body;
        const session = await signIn.secondFactor(challenge, code !== undefined ? { code } : { recoveryCode: recoveryCode! });
        req.log.info({ userId: session.user.id }, 'signed in with a second factor');
        return session;
      },
    });

    app.get('/api/v1/auth/me', {
      schema: {
        tags: ['auth'],
        summary: 'The signed-in user, how they signed in, and their clinics (each one’s address and name) and roles',
        security,
        response: {
          200: Me.extend({
            memberships: z.array(Membership.extend({ clinicSlug: z.string(), clinicName: z.string(), roleName: z.string() })),
            authMethod: AuthMethod,
            mfa: z.object({ enrolled: z.boolean() }),
          }),
          ...problemResponses,
        },
      },
      handler: async (req) => {
        const me = principalOf(req);
        return {
          user: { id: me.userId, email: me.email, name: me.name, isOperator: me.isOperator },
          memberships: await clinicsOf(p, membershipsView(me.memberships)),
          authMethod: me.authMethod,
          mfa: { enrolled: await totp.isEnrolled(me.userId) },
        };
      },
    });

    app.post('/api/v1/auth/logout', {
      schema: {
        tags: ['auth'],
        summary: 'Sign out: the bearer token stops working',
        security,
        response: { 204: z.null(), ...problemResponses },
      },
      handler: async (req, reply) => {
        await signIn.signOut(principalOf(req));
        return reply.code(204).send(null);
      },
    });

    await app.register(mfaRoutes(p, totp));
  };

/** A clinic's staff accounts and its identity trail, inside the clinic-scoped plugin (`http/clinic-scope.ts`). */
export const clinicIdentityRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.post('/users', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['users'],
        summary: 'Create a staff account with a password, as a member of this clinic with a role',
        body: z.strictObject({
          email: z.string().email().max(320),
          name: z.string().trim().min(1).max(200),
          role: RoleKey.describe('a base role or a role of this clinic (GET …/roles)'),
          password: z.string().min(12, 'at least 12 characters').max(1024),
        }),
        response: { 201: User.extend({ membership: Membership }), ...problemResponses, 422: Problem },
      },
      handler: async (req, reply) => {
        const user = await p.users.createMember(req.clinic.id, req.body, userActor(req.clinic.userId));
        return reply.code(201).send({ ...user, membership: { clinicId: req.clinic.id, role: req.body.role } });
      },
    });

    await app.register(identityAuditRoutes(p));
  };
