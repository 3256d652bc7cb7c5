import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Clinic, ClinicDirectory } from '../controlplane/clinics.js';
import type { ControlDB } from '../controlplane/schema.js';
import { notFound } from '../errors.js';
import { Problem, problemResponses } from '../http/problem.js';
import { LocalDate } from '../scheduling/schemas.js';
import type { SettingsService } from '../settings/service.js';
import type { Kysely } from 'kysely';
import type { PatientAccounts } from './accounts.js';
import type { PatientSignInStep } from './patient-mfa.js';
import type { PatientSignedIn } from './patient-sessions.js';

const tags = ['patient portal'];
const Slug = z.strictObject({ slug: z.string().min(1).max(64) });
const Email = z.string().email().max(320);
const Name = z.string().trim().min(1).max(100);
export const PatientSession = z.object({
  token: z.string().describe('a patient session: send it as a bearer token to /api/v1/clinics/{clinicId}/portal/…'),
  expiresAt: z.string(),
  clinicId: z.string(),
  clinicSlug: z.string(),
  accountId: z.string(),
  patientId: z.string(),
});
export const SecondFactorRequired = z.object({
  secondFactor: z.literal('totp').describe('the account has two-step sign-in on: send a code with the challenge'),
  challenge: z.string().describe('for POST /api/v1/portal/sign-in/second-factor; five minutes, five attempts, once'),
  expiresAt: z.string(),
});
const SignInStep = z.union([PatientSession, SecondFactorRequired]);
const SixDigits = z.string().regex(/^\d{6}$/, 'must be the 6-digit code of the authenticator app');
const Accepted = z.object({ status: z.literal('sent').describe('sent if the address may have one; the answer never says whether it has') });

export interface PortalSignInDeps {
  control: Kysely<ControlDB>;
  clinics: Pick<ClinicDirectory, 'get'>;
  settings: Pick<SettingsService, 'effectiveFor'>;
  patientAccounts: PatientAccounts;
}

/**
 * The ways into a clinic's patient portal, before anyone is signed in: public, by the clinic's address (slug) as
 * its sign-in page is. An unknown or suspended clinic is 404; whether an address has an account is never said.
 */
export const portalSignInRoutes =
  (p: PortalSignInDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const { patientAccounts: accounts } = p;
    const clinicBySlug = async (slug: string): Promise<Clinic> => {
      const row = await p.control.selectFrom('clinics').select('id').where('slug', '=', slug).executeTakeFirst();
      const clinic = row && (await p.clinics.get(row.id));
      if (!clinic || clinic.status === 'suspended') throw notFound('clinic');
      return clinic;
    };
    const session = async (s: PatientSignedIn) => ({ ...s, clinicSlug: (await p.clinics.get(s.clinicId))?.slug ?? '' });
    const step = async (s: PatientSignInStep) =>
      s.kind === 'signed_in' ? session(s.session) : { secondFactor: 'totp' as const, challenge: s.challenge, expiresAt: s.expiresAt };

    app.get('/api/v1/portal/:slug', {
      config: { public: true },
      schema: {
        tags,
        summary: "A clinic's patient portal: its id and whether patients may register themselves",
        params: Slug,
        response: { 200: z.object({ clinicId: z.string(), selfRegistration: z.boolean() }), ...problemResponses },
      },
      handler: async (req) => {
        const clinic = await clinicBySlug(req.params.slug);
        return { clinicId: clinic.id, selfRegistration: (await p.settings.effectiveFor(clinic.id)).portal.selfRegistration };
      },
    });

    app.post('/api/v1/portal/:slug/sign-in-link', {
      config: { public: true },
      schema: {
        tags,
        summary: 'Email a one-time sign-in link to a patient of the clinic (15 minutes, single use)',
        params: Slug,
        body: z.strictObject({ email: Email }),
        response: { 202: Accepted, ...problemResponses },
      },
      handler: async (req, reply) => {
        await accounts.requestSignInLink(await clinicBySlug(req.params.slug), req.body.email);
        return reply.code(202).send({ status: 'sent' as const });
      },
    });

    app.post('/api/v1/portal/:slug/sign-in', {
      config: { public: true },
      schema: {
        tags,
        summary: 'Sign in to the patient portal with the password the patient chose',
        params: Slug,
        body: z.strictObject({ email: Email, password: z.string().min(1).max(1024) }),
        response: { 200: SignInStep, ...problemResponses, 429: Problem },
      },
      handler: async (req) =>
        step(await accounts.signInWithPassword(await clinicBySlug(req.params.slug), req.body.email, req.body.password)),
    });

    app.post('/api/v1/portal/sign-in/second-factor', {
      config: { public: true },
      schema: {
        tags,
        summary: 'Finish a patient sign-in with the code of the authenticator app, or a recovery code',
        description:
          'A wrong code is 401 `invalid_mfa_code` (or `mfa_code_reused`) with `attemptsLeft`; a challenge that expired or was used up is 401 `mfa_challenge_expired`.',
        body: z
          .strictObject({
            challenge: z.string().regex(/^pcc_cln_[0-9a-z]{26}\.[A-Za-z0-9_-]{43}$/, 'is not a sign-in challenge'),
            code: SixDigits.optional(),
            recoveryCode: z.string().min(1).max(64).optional(),
          })
          .refine((b) => (b.code === undefined) !== (b.recoveryCode === undefined), 'give either code or recoveryCode'),
        response: { 200: PatientSession, ...problemResponses, 429: Problem },
      },
      handler: async (req) => {
        const { challenge, code, recoveryCode } = req.body;
        return session(await accounts.mfa.secondFactor(challenge, code !== undefined ? { code } : { recoveryCode: recoveryCode ?? '' }));
      },
    });

    app.post('/api/v1/portal/:slug/register', {
      config: { public: true },
      schema: {
        tags,
        summary: 'Register as a patient of the clinic (where it allows it): a link to confirm the address is emailed',
        params: Slug,
        body: z.strictObject({ email: Email, givenName: Name, familyName: Name, birthDate: LocalDate }),
        response: { 202: Accepted, ...problemResponses },
      },
      handler: async (req, reply) => {
        await accounts.register(await clinicBySlug(req.params.slug), req.body);
        return reply.code(202).send({ status: 'sent' as const });
      },
    });

    app.post('/api/v1/portal/links/open', {
      config: { public: true },
      schema: {
        tags,
        summary: 'Open a one-time link (invitation, sign-in or registration): a patient session',
        description: 'A link works once and only until it expires; an unknown, used or expired one is 404 `link_not_found`.',
        body: z.strictObject({ token: z.string().regex(/^pcl_cln_[0-9a-z]{26}\.[A-Za-z0-9_-]{43}$/, 'is not a portal link') }),
        response: { 200: SignInStep, ...problemResponses },
      },
      handler: async (req) => step(await accounts.openLink(req.body.token)),
    });
  };
