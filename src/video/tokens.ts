import { hkdfSync } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT, decodeProtectedHeader } from 'jose';
import type { RegionConfig } from '../config/regions.js';
import { AppError } from '../errors.js';

/**
 * Join tokens and visit links, signed per data region. A join token lets one participant into one room for a
 * few minutes; a visit link (emailed to the appointment's patient) lasts until the visit is over and is only
 * ever exchanged for a join token. Both are HS256 JWTs (`jose`) whose `kid` names the region whose key signed
 * them, so a node verifies with the key of the clinic's own region: a token minted for a clinic in another
 * region, or under another deployment's key, fails the signature whatever it claims.
 *
 * Each region's key is its `POLYCLINIC_REGION_<ID>_VIDEO_JOIN_KEY`, or else derived from the deployment secret
 * (HKDF, one purpose per region), so the embedded default needs no extra setting.
 */
export type VideoRole = 'provider' | 'patient';

export interface JoinClaims {
  clinicId: string;
  appointmentId: string;
  /** A user id (`usr_…`) for staff, a patient id (`pat_…`) for the patient. */
  participantId: string;
  role: VideoRole;
  region: string;
  expiresAt: number;
}

export interface VisitLinkClaims {
  clinicId: string;
  appointmentId: string;
  patientId: string;
  region: string;
}

const ISSUER = 'polyclinic';
const JOIN = 'polyclinic:video-join';
const VISIT = 'polyclinic:visit-link';

export const invalidJoinToken = (why: string): AppError => new AppError(401, 'invalid_join_token', `The join token ${why}`);
export const invalidVisitLink = (why: string): AppError => new AppError(401, 'invalid_visit_link', `The visit link ${why}`);

export class VideoTokens {
  private readonly keys = new Map<string, Uint8Array>();

  constructor(regions: Pick<RegionConfig, 'id' | 'video'>[], deploymentSecret: string) {
    for (const r of regions)
      this.keys.set(
        r.id,
        r.video.joinKey
          ? new TextEncoder().encode(r.video.joinKey)
          : new Uint8Array(hkdfSync('sha256', deploymentSecret, 'polyclinic-video', `v1:join:${r.id}`, 32)),
      );
  }

  async join(c: Omit<JoinClaims, 'expiresAt'>, ttlSeconds: number, now = Date.now()): Promise<{ token: string; expiresAt: number }> {
    const expiresAt = Math.floor(now / 1000) + ttlSeconds;
    const token = await new SignJWT({ cln: c.clinicId, apt: c.appointmentId, role: c.role })
      .setProtectedHeader({ alg: 'HS256', kid: c.region })
      .setIssuer(ISSUER)
      .setAudience(JOIN)
      .setSubject(c.participantId)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(expiresAt)
      .sign(this.key(c.region));
    return { token, expiresAt: expiresAt * 1000 };
  }

  async visitLink(c: VisitLinkClaims, expiresAt: number, now = Date.now()): Promise<string> {
    return new SignJWT({ cln: c.clinicId, apt: c.appointmentId })
      .setProtectedHeader({ alg: 'HS256', kid: c.region })
      .setIssuer(ISSUER)
      .setAudience(VISIT)
      .setSubject(c.patientId)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(expiresAt / 1000))
      .sign(this.key(c.region));
  }

  /** The claims of a join token, or 401 `invalid_join_token`; the caller still checks them against the clinic. */
  async verifyJoin(token: string, now = Date.now()): Promise<JoinClaims> {
    const { payload, region } = await this.verify(token, JOIN, now, invalidJoinToken);
    const role = payload.role;
    if (role !== 'provider' && role !== 'patient') throw invalidJoinToken('names no role');
    return {
      clinicId: String(payload.cln),
      appointmentId: String(payload.apt),
      participantId: String(payload.sub),
      role,
      region,
      expiresAt: (payload.exp ?? 0) * 1000,
    };
  }

  async verifyVisitLink(token: string, now = Date.now()): Promise<VisitLinkClaims> {
    const { payload, region } = await this.verify(token, VISIT, now, invalidVisitLink);
    return { clinicId: String(payload.cln), appointmentId: String(payload.apt), patientId: String(payload.sub), region };
  }

  private key(region: string): Uint8Array {
    const key = this.keys.get(region);
    if (!key) throw new Error(`No video key for region ${region}`);
    return key;
  }

  private async verify(token: string, audience: string, now: number, fail: (why: string) => AppError) {
    let region: string;
    try {
      region = String(decodeProtectedHeader(token).kid ?? '');
    } catch {
      throw fail('is malformed');
    }
    const key = this.keys.get(region);
    if (!key) throw fail('was not signed by a region of this deployment');
    try {
      const { payload } = await jwtVerify(token, key, {
        issuer: ISSUER,
        audience,
        algorithms: ['HS256'],
        currentDate: new Date(now),
        requiredClaims: ['sub', 'exp', 'cln', 'apt'],
      });
      return { payload, region };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw fail('has expired');
      throw fail('is not valid');
    }
  }
}
