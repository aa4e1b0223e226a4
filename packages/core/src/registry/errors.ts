import { AgError, CredentialsError, MissingError, UnreachableError, VerificationError, classifySystemError, messageWithCode, systemCodeOf } from '../errors.js';
import { isRetryableStatus, parseRetryAfter } from '../download/retry.js';
import { missingPrerequisite, registryErrorEntries } from './refusals.js';

/**
 * `MANIFEST_UNKNOWN: manifest unknown`, from a registry error body's text
 * (the first entry of its `errors` array: a code and a message, or a message
 * alone as Artifactory writes it); the text itself if it has none.
 */
export function registryErrorSummary(text: string): string {
  const first = registryErrorEntries(text)[0];
  if (first?.code) return `${first.code}${first.message ? `: ${first.message}` : ''}`;
  if (typeof first?.message === 'string' && first.message !== '') return first.message.trim();
  return text.trim().slice(0, 200);
}

/**
 * The registry's own code for a refusal, for `--log-format json`: the first
 * of its error body (the distribution spec's UNAUTHORIZED, DENIED,
 * MANIFEST_UNKNOWN, NAME_UNKNOWN, TOOMANYREQUESTS…: opencontainers/distribution-spec,
 * spec.md, "Error Codes"), else the spec's code for the status (401, 403, 429;
 * NOT_FOUND for a bare 404 is ag's, as Harbor writes it), else HTTP_<status>.
 */
function registryCodeOf(bodyText: string, status: number): string {
  const code = registryErrorEntries(bodyText)[0]?.code;
  if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) return code;
  return ({ 401: 'UNAUTHORIZED', 403: 'DENIED', 404: 'NOT_FOUND', 429: 'TOOMANYREQUESTS' } as Record<number, string>)[status] ?? `HTTP_${status}`;
}

/**
 * The credentials a request carried: who and where from (`--username`, an
 * auth file and its entry, a credential helper), or where ag looked and
 * found none.
 */
export type CredentialsUsed = { username: string; source: string } | { none: true; searched: string[] };

/** `refused the credentials of ag from /root/.docker/config.json (registry.internal:5000)` and the like. */
export function credentialsError(doing: string, registry: string, status: 401 | 403, used: CredentialsUsed | undefined, said = '', details: Record<string, unknown> = {}): CredentialsError {
  const how = 'pass --username with --password-stdin or --credentials-file, run docker login or podman login, or set REGISTRY_AUTH_FILE';
  if (used !== undefined && 'none' in used) {
    return new CredentialsError(`${doing}: ${registry} requires credentials, and none were found for it (looked in ${used.searched.join(', ') || 'no auth file'})${said}`, {
      details: { ...details, registry, credentials: 'none' },
      hint: how,
    });
  }
  const whose = used === undefined ? 'the credentials' : `the credentials of ${JSON.stringify(used.username)} from ${used.source}`;
  if (status === 403) {
    return new CredentialsError(`${doing}: ${registry} denied ${whose} access${said}`, {
      details: { ...details, registry, ...(used ? { username: used.username, source: used.source } : {}) },
      hint: `that account has no right to this repository on ${registry}; use one that has, or ask the registry's owner`,
    });
  }
  return new CredentialsError(`${doing}: ${registry} refused ${whose}${said}`, {
    details: { ...details, registry, ...(used ? { username: used.username, source: used.source } : {}) },
    hint: `check the username and password ${used ? `in ${used.source}` : `for ${registry}`}; or ${how}`,
  });
}

/**
 * The AgError for a registry response that is not what was asked for.
 * 404 is missing (5); 401/403 refused credentials (8, naming the registry and
 * the credentials' source when known); digest and size complaints a
 * verification failure (3); 408/429/5xx retryable and unreachable (4),
 * honouring Retry-After; anything else unreachable (4), not retried.
 */
export function registryStatusError(
  doing: string,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
  registry: string,
  used?: CredentialsUsed,
): AgError {
  const summary = registryErrorSummary(bodyText);
  const said = summary ? ` (${summary})` : '';
  const retryAfterMs = parseRetryAfter(headers['retry-after']);
  const details: Record<string, unknown> = { status, retryable: isRetryableStatus(status), registryCode: registryCodeOf(bodyText, status) };
  if (retryAfterMs !== undefined) details['retryAfterMs'] = retryAfterMs;
  if (status === 404) return missingPrerequisite(doing, status, bodyText, registry) ?? new MissingError(`${doing}: not found${said}`, { details, hint: 'check the name, tag and registry' });
  if (status === 401 || status === 403) return credentialsError(doing, registry, status, used, said, details);
  if (/DIGEST_INVALID|SIZE_INVALID/.test(summary)) return new VerificationError(`${doing}: ${registry} rejected the content${said}`, { details });
  if (/BLOB_UNKNOWN/.test(summary)) return new MissingError(`${doing}: ${registry} lacks a blob the manifest needs${said}`, { details });
  return new UnreachableError(`${doing}: ${registry} answered HTTP ${status}${said}`, {
    details,
    hint: isRetryableStatus(status) ? 'the registry is failing; try again later' : 'the registry refused the request',
  });
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A thrown network error, as an AgError saying what was being done, keeping
 * its code (so the retry policy still sees ECONNRESET) and naming the fix for
 * TLS trouble.
 */
export function networkError(doing: string, error: unknown, host: string): AgError {
  if (error instanceof AgError) return error;
  const code = systemCodeOf(error, 5);
  const message = error instanceof Error ? error.message : String(error);
  if (code !== undefined && TLS_CODES.has(code)) {
    return new UnreachableError(`${doing}: the TLS certificate of ${host} is not trusted (${code})`, {
      cause: error,
      details: { retryable: false },
      hint: `pass --ca-file with the registry's CA, or put it in /etc/docker/certs.d/${host}/ca.crt; --insecure-skip-tls-verify only for a test`,
    });
  }
  if (code === 'EPROTO' || /wrong version number|packet length too long/i.test(message)) {
    return new UnreachableError(`${doing}: ${host} does not speak TLS here (${message})`, {
      cause: error,
      details: { retryable: false },
      hint: 'if the registry serves plain HTTP, pass --plain-http',
    });
  }
  const kind = classifySystemError(error);
  // undici's own errors (UND_ERR_*) and socket errors are network trouble; an error without a code is a bug.
  const network = code !== undefined && (code.startsWith('UND_ERR') || code.startsWith('E'));
  return new AgError(kind.kind === 'internal' && network ? 'unreachable' : kind.kind, `${doing}: ${messageWithCode(error, 5)}`, {
    cause: error,
    hint: kind.hint ?? 'check the address, the network path and any proxy (HTTPS_PROXY, NO_PROXY)',
  });
}
