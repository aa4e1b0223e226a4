// The algorithms keygen offers, apart from signing.ts: the command line lists them in --help, and a start
// that only parses it need not load node:crypto with the signing code.
export type SignatureAlgorithm = 'ecdsa-p256-sha256' | 'ed25519';

export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = ['ecdsa-p256-sha256', 'ed25519'];
