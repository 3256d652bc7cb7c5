import { AppError } from '../../errors.js';

/**
 * Why a SAML response was refused. The codes are stable (logs, the identity audit trail and alerts branch on
 * them); the message beside each says what was seen and what was expected, for the clinic's admin.
 */
export type SamlRejectReason =
  | 'malformed' // not base64, not XML, a DOCTYPE, not one Response with exactly one assertion, missing parts
  | 'signature_invalid' // a signature that does not verify (tampered content, wrapping, bad references)
  | 'assertion_unsigned' // the assertion carries no signature; we always require one
  | 'response_unsigned' // the connection requires the IdP to sign the Response too, and it did not
  | 'wrong_certificate' // signed by a key whose certificate is not pinned on this connection
  | 'weak_algorithm' // signed or digested with SHA-1, which the connection has not opted in to
  | 'assertion_encrypted' // we publish no encryption key, so an encrypted assertion cannot be ours
  | 'idp_error' // the IdP answered with a non-success status (user cancelled, not assigned to the app…)
  | 'issuer_mismatch'
  | 'audience_mismatch'
  | 'recipient_mismatch'
  | 'destination_mismatch'
  | 'in_response_to_mismatch' // answers another request, an unknown one, or none when we sent one
  | 'idp_initiated_disabled'
  | 'expired'
  | 'not_yet_valid'
  | 'replayed';

export class SamlRejected extends Error {
  constructor(
    readonly reason: SamlRejectReason,
    message: string,
  ) {
    super(message);
    this.name = 'SamlRejected';
  }
}

/**
 * A connection's SAML configuration cannot be used: unreadable metadata, no usable endpoint or certificate, a
 * metadata URL we refuse to fetch. It is the admin's input that is wrong, so it renders as a 400 with `code`.
 */
export type SamlConfigErrorCode =
  | 'metadata_invalid'
  | 'metadata_no_sso_endpoint'
  | 'metadata_no_signing_certificate'
  | 'metadata_url_refused'
  | 'metadata_address_refused'
  | 'metadata_fetch_failed'
  | 'metadata_too_large'
  | 'certificate_invalid'
  | 'idp_settings_invalid';

export class SamlConfigError extends AppError {
  constructor(code: SamlConfigErrorCode, message: string) {
    super(400, code, message);
    this.name = 'SamlConfigError';
  }
}
