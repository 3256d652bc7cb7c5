import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { AppError, conflict, notFound } from '../errors.js';
import { pgErrorCode } from '../db/pg.js';
import { recordedChange, recordIdentityEvent } from '../identity/audit.js';

/**
 * Sign-in by email address: a clinic claims the email domains of its staff for one of its connections, proves
 * each with a DNS TXT record, and from then on `alice@hospital.example` is sent to that clinic's IdP without
 * knowing the clinic's slug. Only a proved domain routes anyone: a claim alone does nothing, so a clinic cannot
 * pull another organisation's staff to its IdP by claiming their domain, and cannot block them by squatting it
 * (any number of clinics may claim; one may hold it verified).
 */
export interface SsoDomain {
  domain: string;
  clinicId: string;
  connectionId: string;
  verified: boolean;
  verifiedAt: Date | null;
  /** The TXT record to publish: at `name`, the value `value`. */
  verification: { type: 'dns-txt'; name: string; value: string };
}

const DOMAIN = /^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
export const challengeName = (domain: string): string => `_polyclinic-challenge.${domain}`;
const challengeValue = (token: string): string => `polyclinic-verification=${token}`;

export function normaliseDomain(raw: string): string {
  const domain = raw.trim().toLowerCase().replace(/\.$/, '');
  if (!DOMAIN.test(domain)) throw new AppError(422, 'domain_invalid', `${raw} is not a domain name`);
  return domain;
}

type Row = ControlDB['sso_domains'] & { created_at: Date };
const fromRow = (r: Omit<Row, 'created_at'>): SsoDomain => ({
  domain: r.domain,
  clinicId: r.clinic_id,
  connectionId: r.connection_id,
  verified: r.verified_at !== null,
  verifiedAt: r.verified_at,
  verification: { type: 'dns-txt', name: challengeName(r.domain), value: challengeValue(r.verification_token) },
});

export class SsoDomains {
  private readonly resolver: Resolver;

  /** `dnsServers` lets a deployment (and the tests) name the resolvers that answer the challenge lookups. */
  constructor(
    private readonly db: Kysely<ControlDB>,
    dnsServers: string[] = [],
  ) {
    this.resolver = new Resolver({ timeout: 3000, tries: 2 });
    if (dnsServers.length) this.resolver.setServers(dnsServers);
  }

  async list(clinicId: string): Promise<SsoDomain[]> {
    const rows = await this.db.selectFrom('sso_domains').selectAll().where('clinic_id', '=', clinicId).orderBy('domain').execute();
    return rows.map(fromRow);
  }

  async claim(clinicId: string, rawDomain: string, connectionId: string, actorId: string): Promise<SsoDomain> {
    const domain = normaliseDomain(rawDomain);
    const connection = await this.db
      .selectFrom('sso_connections')
      .select('id')
      .where('clinic_id', '=', clinicId)
      .where('id', '=', connectionId)
      .executeTakeFirst();
    if (!connection) throw notFound('sso_connection');
    try {
      const row = await this.db
        .insertInto('sso_domains')
        .values({ clinic_id: clinicId, domain, connection_id: connectionId, verification_token: randomBytes(18).toString('base64url') })
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordIdentityEvent(this.db, {
        clinicId,
        actor: { kind: 'user', id: actorId },
        action: 'sso_domain.claim',
        resourceType: 'SsoDomain',
        resourceId: domain,
        after: { connectionId },
      });
      return fromRow(row);
    } catch (err) {
      if (pgErrorCode(err) === '23505') throw conflict('domain_already_claimed', `This clinic already claims ${domain}`);
      throw err;
    }
  }

  /** Looks the TXT record up now; a match marks the domain verified (unless another clinic holds it verified). */
  async verify(clinicId: string, rawDomain: string, actorId: string): Promise<SsoDomain> {
    const domain = normaliseDomain(rawDomain);
    const row = await this.db
      .selectFrom('sso_domains')
      .selectAll()
      .where('clinic_id', '=', clinicId)
      .where('domain', '=', domain)
      .executeTakeFirst();
    if (!row) throw notFound('sso_domain');
    if (row.verified_at) return fromRow(row);
    const expected = challengeValue(row.verification_token);
    const records = await this.resolver.resolveTxt(challengeName(domain)).catch(() => [] as string[][]);
    const found = records.some((chunks) => chunks.join('') === expected);
    if (!found) {
      await recordIdentityEvent(this.db, {
        clinicId,
        actor: { kind: 'user', id: actorId },
        action: 'sso_domain.verify',
        outcome: 'failure',
        reason: 'txt_record_missing',
        resourceType: 'SsoDomain',
        resourceId: domain,
      });
      throw new AppError(
        422,
        'domain_not_verified',
        `No TXT record ${expected} at ${challengeName(domain)} yet; DNS changes can take a while to appear`,
      );
    }
    try {
      const updated = await this.db
        .transaction()
        .execute((trx) =>
          recordedChange(
            trx,
            trx
              .updateTable('sso_domains')
              .set({ verified_at: new Date() })
              .where('clinic_id', '=', clinicId)
              .where('domain', '=', domain)
              .returningAll()
              .executeTakeFirst(),
            'sso_domain',
            { clinicId, actor: { kind: 'user', id: actorId }, action: 'sso_domain.verify', resourceType: 'SsoDomain', resourceId: domain },
            async (verified) => ({ result: verified, after: { connectionId: verified.connection_id } }),
          ),
        );
      return fromRow(updated);
    } catch (err) {
      if (pgErrorCode(err) === '23505') throw conflict('domain_verified_elsewhere', `${domain} is verified by another clinic`);
      throw err;
    }
  }

  async release(clinicId: string, rawDomain: string, actorId: string): Promise<void> {
    const domain = normaliseDomain(rawDomain);
    await this.db
      .transaction()
      .execute((trx) =>
        recordedChange(
          trx,
          trx
            .deleteFrom('sso_domains')
            .where('clinic_id', '=', clinicId)
            .where('domain', '=', domain)
            .returning('connection_id')
            .executeTakeFirst(),
          'sso_domain',
          { clinicId, actor: { kind: 'user', id: actorId }, action: 'sso_domain.release', resourceType: 'SsoDomain', resourceId: domain },
          async (row) => ({ result: undefined, before: { connectionId: row.connection_id } }),
        ),
      );
  }

  /** The verified claim of an email's domain: the clinic and connection a sign-in by email goes to. */
  async route(email: string): Promise<{ clinicId: string; connectionId: string } | undefined> {
    const at = email.lastIndexOf('@');
    if (at < 1) return undefined;
    const domain = email
      .slice(at + 1)
      .trim()
      .toLowerCase();
    const row = await this.db
      .selectFrom('sso_domains')
      .select(['clinic_id', 'connection_id'])
      .where('domain', '=', domain)
      .where('verified_at', 'is not', null)
      .executeTakeFirst();
    return row && { clinicId: row.clinic_id, connectionId: row.connection_id };
  }
}
