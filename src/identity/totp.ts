import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import type { ControlDB } from '../controlplane/schema.js';
import { conflict } from '../errors.js';
import type { SecretBox } from '../platform/secrets.js';
import { deploymentBox, type SealingBox } from '../secrets/clinic-secrets.js';

export const TOTP_ISSUER = 'Polyclinic';
const SEAL_PURPOSE = 'totp';
const RECOVERY_CODE_COUNT = 10;
// The parameters every authenticator app understands (RFC 6238 defaults); a 160-bit seed as RFC 4226 advises.
const PARAMS = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
const SEED_BYTES = 20;
/** Codes one step either side of now are accepted: phones drift, and people type slowly. */
const WINDOW = 1;

export type CodeCheck = 'ok' | 'invalid' | 'reused';

/**
 * The second factor of local accounts: an RFC 6238 TOTP seed per user, sealed under the deployment secret
 * (`SecretBox`, purpose `totp`), plus ten single-use recovery codes. The seed stays on the deployment key, not a
 * clinic's: a staff account is a person's across every clinic they work for (one seed, one authenticator entry),
 * so no one clinic's offboarding may destroy it; an account that belonged to the offboarded clinic only is
 * deleted with its seed (`lifecycle/offboard.ts`). Enrolment is two steps: the seed is stored
 * unconfirmed and becomes the user's factor only once they prove their app produces its codes.
 *
 * Each accepted code advances `last_step`, and a code is accepted only for a later step than the last one, in
 * one conditional UPDATE: a code seen over someone's shoulder, or submitted twice at once, works at most once.
 *
 * Methods take the database as an argument where a caller needs them inside its own transaction.
 */
export class TotpFactor {
  private readonly box: SealingBox;

  constructor(
    private readonly db: Kysely<ControlDB>,
    secrets: SecretBox,
  ) {
    this.box = deploymentBox(secrets, SEAL_PURPOSE);
  }

  async isEnrolled(userId: string, db: Kysely<ControlDB> = this.db): Promise<boolean> {
    const row = await db.selectFrom('user_mfa').select('confirmed_at').where('user_id', '=', userId).executeTakeFirst();
    return !!row?.confirmed_at;
  }

  /** A new unconfirmed seed, replacing an unconfirmed one; refused while a confirmed one exists. */
  async enrol(user: { id: string; email: string }): Promise<{ secret: string; otpauthUri: string; issuer: string }> {
    const { sealed, ...enrolment } = await newTotpSeed(this.box, user.email);
    const row = await this.db
      .insertInto('user_mfa')
      .values({ user_id: user.id, secret_ciphertext: sealed, confirmed_at: null, last_step: null })
      .onConflict((oc) =>
        oc
          .column('user_id')
          .doUpdateSet({ secret_ciphertext: sealed, last_step: null, created_at: new Date() })
          .where('user_mfa.confirmed_at', 'is', null),
      )
      .returning('user_id')
      .executeTakeFirst();
    if (!row) throw alreadyEnrolled();
    return enrolment;
  }

  /** Confirms an unconfirmed seed with a code from it; returns the recovery codes, shown this once. */
  async confirm(userId: string, code: string): Promise<string[] | 'invalid'> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('user_mfa').selectAll().where('user_id', '=', userId).forUpdate().executeTakeFirst();
      if (!row) throw conflict('mfa_not_enrolled', 'Start enrolment first: POST /api/v1/auth/mfa/totp');
      if (row.confirmed_at) throw alreadyEnrolled();
      const step = await this.acceptedStep(row.secret_ciphertext, code);
      if (step === null) return 'invalid';
      await trx.updateTable('user_mfa').set({ confirmed_at: new Date(), last_step: step }).where('user_id', '=', userId).execute();
      return this.replaceRecoveryCodes(trx, userId);
    });
  }

  /** Checks a code of a confirmed seed and, when it is good and new, spends its time step. */
  async verify(userId: string, code: string, db: Kysely<ControlDB> = this.db): Promise<CodeCheck> {
    const row = await db
      .selectFrom('user_mfa')
      .select('secret_ciphertext')
      .where('user_id', '=', userId)
      .where('confirmed_at', 'is not', null)
      .executeTakeFirst();
    if (!row) return 'invalid';
    const step = await this.acceptedStep(row.secret_ciphertext, code);
    if (step === null) return 'invalid';
    const spent = await db
      .updateTable('user_mfa')
      .set({ last_step: step })
      .where('user_id', '=', userId)
      .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
      .returning('user_id')
      .executeTakeFirst();
    return spent ? 'ok' : 'reused';
  }

  /**
   * Spends a recovery code; returns how many are left, or null when the code is not one of this user's unused
   * codes. The lookup is by the code's SHA-256: no string comparison of secrets happens in our process, and a
   * timing difference inside the index lookup could reveal at most a prefix of a digest, which does not help
   * find a code. The UPDATE is conditional on `used_at is null`, so a code works once even when sent twice at once.
   */
  async useRecoveryCode(userId: string, code: string, db: Kysely<ControlDB> = this.db): Promise<number | null> {
    const used = await db
      .updateTable('mfa_recovery_codes')
      .set({ used_at: new Date() })
      .where('user_id', '=', userId)
      .where('code_hash', '=', hashRecoveryCode(code))
      .where('used_at', 'is', null)
      .returning('user_id')
      .executeTakeFirst();
    if (!used) return null;
    const left = await db
      .selectFrom('mfa_recovery_codes')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(left.n);
  }

  async regenerateRecoveryCodes(userId: string): Promise<string[]> {
    return this.db.transaction().execute((trx) => this.replaceRecoveryCodes(trx, userId));
  }

  async disable(userId: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
      await trx.deleteFrom('mfa_challenges').where('user_id', '=', userId).execute();
      await trx.deleteFrom('user_mfa').where('user_id', '=', userId).execute();
    });
  }

  private async replaceRecoveryCodes(trx: Kysely<ControlDB>, userId: string): Promise<string[]> {
    const codes = newRecoveryCodes();
    await trx.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
    await trx
      .insertInto('mfa_recovery_codes')
      .values(codes.map((c) => ({ user_id: userId, code_hash: hashRecoveryCode(c), used_at: null })))
      .execute();
    return codes;
  }

  private acceptedStep(sealed: string, code: string): Promise<number | null> {
    return acceptedTotpStep(this.box, sealed, code);
  }
}

/**
 * The pieces any holder of a TOTP factor uses (staff accounts here, patient accounts in `portal/totp.ts`, each
 * keeping its seeds beside its accounts): a new seed sealed in the holder's box (the deployment key for staff, the
 * clinic's key for patients), the check of a code against a sealed seed, and recovery codes.
 */
export async function newTotpSeed(
  box: SealingBox,
  label: string,
  issuer = TOTP_ISSUER,
): Promise<{ sealed: string; secret: string; otpauthUri: string; issuer: string }> {
  const secret = new Secret({ size: SEED_BYTES });
  const totp = new TOTP({ ...PARAMS, issuer, label, secret });
  return { sealed: await box.seal(secret.base32), secret: secret.base32, otpauthUri: totp.toString(), issuer };
}

/** The time step the code belongs to, within the window around now, or null. */
export async function acceptedTotpStep(box: SealingBox, sealed: string, code: string): Promise<number | null> {
  if (!/^\d{6}$/.test(code)) return null;
  let secret: Secret;
  try {
    secret = Secret.fromBase32(await box.open(sealed));
  } catch {
    // Sealed under another deployment secret, or under a clinic key since destroyed: no code can match; the
    // holder signs in with a recovery code.
    return null;
  }
  const timestamp = Date.now();
  const delta = TOTP.validate({ ...PARAMS, secret, token: code, timestamp, window: WINDOW });
  return delta === null ? null : TOTP.counter({ period: PARAMS.period, timestamp }) + delta;
}

export const newRecoveryCodes = (): string[] => Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);

const alreadyEnrolled = () => conflict('mfa_already_enrolled', 'TOTP is already enrolled; disable it first to enrol a new device');

// Crockford base32 (no i, l, o, u): 16 characters are 80 random bits; 256 is a multiple of 32, so `b % 32` is unbiased.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

function newRecoveryCode(): string {
  const chars = [...randomBytes(16)].map((b) => ALPHABET[b % 32]).join('');
  return chars.match(/.{4}/g)!.join('-');
}

/**
 * SHA-256, not a password hash: a recovery code carries 80 random bits, so a stolen table cannot be reversed
 * by guessing however fast each guess is, and scrypt would only slow every sign-in down. What people type is
 * normalised first (case, dashes, spaces, and the letters Crockford base32 reads as digits).
 */
export function hashRecoveryCode(code: string): string {
  const normal = code.toLowerCase().replace(/[\s-]/g, '').replace(/[o]/g, '0').replace(/[il]/g, '1');
  return createHash('sha256').update(normal).digest('hex');
}
