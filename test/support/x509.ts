/** Test IdPs sign with keys made the same way as a connection's SP signing key. */
export {
  createSelfSignedCertificate,
  type KeyPairWithCertificate as TestKeyPair,
} from '../../src/sso/saml/self-signed.js';
