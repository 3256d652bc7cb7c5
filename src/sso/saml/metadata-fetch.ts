import { Outbound, OutboundRefused } from '../../platform/outbound.js';
import { SamlConfigError } from './errors.js';

/**
 * Fetching an IdP's metadata from a URL a clinic admin typed. The server makes the request, so the URL is an
 * SSRF vector; the platform's one guarded fetch (platform/outbound.ts) makes it: public addresses only (or the
 * deployment's allow-list), connected to the address it checked, redirects checked hop by hop, size and time
 * bounded. This module only names its refusals in SAML configuration terms.
 */
export interface FetchMetadataOptions {
  /** The deployment's guarded fetch; the default reaches public addresses over https only. */
  outbound?: Outbound;
  timeoutMs?: number;
  maxBytes?: number;
}

const PUBLIC_ONLY = new Outbound();

const CODES = {
  url_refused: 'metadata_url_refused',
  address_refused: 'metadata_address_refused',
  fetch_failed: 'metadata_fetch_failed',
  too_large: 'metadata_too_large',
} as const;

export async function fetchIdpMetadata(url: string, opts: FetchMetadataOptions = {}): Promise<string> {
  const outbound = opts.outbound ?? PUBLIC_ONLY;
  let res: Response;
  try {
    res = await outbound.fetch(url, {
      headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml', 'user-agent': 'Polyclinic SAML metadata fetch' },
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
    });
  } catch (err) {
    if (err instanceof OutboundRefused) throw new SamlConfigError(CODES[err.code], `the metadata URL was refused: ${err.message}`);
    throw err;
  }
  if (res.status !== 200) throw new SamlConfigError('metadata_fetch_failed', `the metadata URL answered HTTP ${res.status}`);
  return res.text();
}
