/**
 * The registry client (OCI distribution spec): authentication (anonymous and
 * credentialed Bearer tokens, Basic), credentials from the usual files, TLS
 * with certs.d, retries with resume, redirects without leaking credentials.
 */
export * from './challenge.js';
export * from './credentials.js';
export * from './tls.js';
export * from './errors.js';
export * from './refusals.js';
export * from './target-credentials.js';
export * from './client.js';
export * from './referrers.js';
