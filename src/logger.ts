import pino, { type Logger } from 'pino';
import { currentContext } from './platform/request-context.js';

/**
 * The one logger: JSON lines, tagged per request with request id (Fastify's child logger), user and clinic.
 * User and clinic come from the request context when a line is written, not from a child logger made per
 * request: most requests write no line at all, and a child costs an allocation and a serialisation each time.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'polyclinic' },
    redact: ['req.headers.authorization', 'password', '*.password'],
    mixin: () => {
      const actor = currentContext()?.actor;
      if (actor?.kind === 'user') return actor.clinicId ? { userId: actor.userId, clinicId: actor.clinicId } : { userId: actor.userId };
      if (actor?.kind === 'scim_token') return { scimTokenId: actor.tokenId, clinicId: actor.clinicId };
      if (actor?.kind === 'fhir_client') return { fhirClientId: actor.clientId, clinicId: actor.clinicId };
      return {};
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
