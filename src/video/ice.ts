import { createHmac } from 'node:crypto';
import type { RegionVideoConfig } from '../config/regions.js';

/** One entry of RTCConfiguration.iceServers, as the browser takes it. */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/**
 * The ICE servers of a region for one participant: its STUN servers as they are, and its TURN servers with
 * credentials in coturn's shared-secret REST scheme (`use-auth-secret` / `static-auth-secret`): the username is
 * `<expiry unix seconds>:<participant>` and the password is base64(HMAC-SHA1(secret, username)). coturn checks
 * both without asking us, and refuses the credentials once the expiry has passed, so a leaked one dies on its
 * own. The participant in the name lets coturn's logs tie a relay to a visit without naming a person.
 */
export function iceServersFor(region: RegionVideoConfig, participant: string, ttlSeconds: number, now = Date.now()): IceServer[] {
  const servers: IceServer[] = [];
  if (region.stunUrls.length) servers.push({ urls: region.stunUrls });
  if (region.turnUrls.length && region.turnSecret)
    servers.push({ urls: region.turnUrls, ...turnCredentials(region.turnSecret, participant, ttlSeconds, now) });
  return servers;
}

export function turnCredentials(
  secret: string,
  participant: string,
  ttlSeconds: number,
  now = Date.now(),
): { username: string; credential: string } {
  const username = `${Math.floor(now / 1000) + ttlSeconds}:${participant}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}
