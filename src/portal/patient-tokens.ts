import { createHash, randomBytes } from 'node:crypto';
import { isId } from '../ids.js';

/**
 * The portal's bearer secrets: sessions (`pcp_`), emailed links (`pcl_`) and second-factor challenges (`pcc_`).
 * Each names its clinic (`<prefix><clinic>.<secret>`), so it is looked up in that clinic's store only, and only
 * its SHA-256 is kept there.
 */
export const SESSION_PREFIX = 'pcp_';
export const LINK_PREFIX = 'pcl_';
export const CHALLENGE_PREFIX = 'pcc_';

export const hash = (token: string): string => createHash('sha256').update(token).digest('base64url');
export const secret = (prefix: string, clinicId: string): string => `${prefix}${clinicId}.${randomBytes(32).toString('base64url')}`;

/** The clinic a patient token names, if it is one at all. */
export function clinicOfToken(token: string, prefix = SESSION_PREFIX): string | undefined {
  if (!token.startsWith(prefix)) return undefined;
  const clinicId = token.slice(prefix.length, token.indexOf('.'));
  return token.indexOf('.') > 0 && isId('clinic', clinicId) ? clinicId : undefined;
}
export const isPatientToken = (token: string): boolean => token.startsWith(SESSION_PREFIX);

export const normalEmail = (email: string): string => email.trim().toLowerCase();
