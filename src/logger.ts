import pino, { type Logger } from 'pino';

/** The one logger: JSON lines, tagged per request with request id, user and clinic by the HTTP layer. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'polyclinic' }, redact: ['req.headers.authorization', 'password', '*.password'] });
}
