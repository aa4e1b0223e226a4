/**
 * Typed errors with stable codes and exit codes.
 *
 * Every failure an operator can meet is one of these kinds. The exit code is
 * part of ag's contract (README, "Exit codes"): scripts branch on it, so a kind
 * never changes its number.
 */

export const ExitCode = {
  /** Done. */
  ok: 0,
  /** A bug or an unexpected condition: the message and `--debug` say more. */
  internal: 1,
  /** Wrong flags, or an input document that is malformed or of an unknown version. */
  usage: 2,
  /** A digest, checksum, size or signature did not match. */
  verification: 3,
  /** A registry, file host or service could not be reached. */
  unreachable: 4,
  /** Something the stage needs is not there (a file, a blob, an image, a tool). */
  missing: 5,
  /** The local system refused: disk full, permission denied, no room for what is carried. */
  system: 6,
  /** Another program that ag ran (kubeadm, kubectl, ctr, apt) failed. */
  external: 7,
  /**
   * A registry or host refused the credentials (or wanted some and none were
   * found), or denied that account access: the message names the registry
   * and where the credentials came from.
   */
  credentials: 8,
} as const;

export type ExitCodeName = keyof typeof ExitCode;

export interface AgErrorOptions {
  /** What the operator can do next. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
  /** Structured facts for `--log-format json` (expected/actual digests, paths…). */
  details?: Record<string, unknown>;
}

/** The base of every error ag reports on purpose. */
export class AgError extends Error {
  readonly kind: ExitCodeName;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(kind: ExitCodeName, message: string, options: AgErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgError';
    this.kind = kind;
    this.hint = options.hint;
    this.details = options.details;
  }

  get exitCode(): number {
    return ExitCode[this.kind];
  }

  /** A stable, machine-readable code such as `AG_VERIFICATION`. */
  get code(): string {
    return `AG_${this.kind.toUpperCase()}`;
  }
}

export class UsageError extends AgError {
  constructor(message: string, options?: AgErrorOptions) {
    super('usage', message, options);
    this.name = 'UsageError';
  }
}

export class VerificationError extends AgError {
  constructor(message: string, options?: AgErrorOptions) {
    super('verification', message, options);
    this.name = 'VerificationError';
  }
}

export class UnreachableError extends AgError {
  constructor(message: string, options?: AgErrorOptions) {
    super('unreachable', message, options);
    this.name = 'UnreachableError';
  }
}

export class MissingError extends AgError {
  constructor(message: string, options?: AgErrorOptions) {
    super('missing', message, options);
    this.name = 'MissingError';
  }
}

export class SystemError extends AgError {
  constructor(message: string, options?: AgErrorOptions) {
    super('system', message, options);
    this.name = 'SystemError';
  }
}

export class ExternalError extends AgError {
  constructor(message: string, options?: AgErrorOptions) {
    super('external', message, options);
    this.name = 'ExternalError';
  }
}

export class CredentialsError extends AgError {
  constructor(message: string, options?: AgErrorOptions) {
    super('credentials', message, options);
    this.name = 'CredentialsError';
  }
}

/**
 * Adds what was being done to an error's message (`pulling registry.k8s.io/pause:3.9: …`),
 * keeping its kind; turns Node's system errors into the right kind on the way.
 * `details` (`{ reference }`) go to `--log-format json` with the error's own.
 */
export function withContext(doing: string, error: unknown, details?: Record<string, unknown>): AgError {
  if (error instanceof AgError) {
    const wrapped = new AgError(error.kind, `${doing}: ${error.message}`, {
      hint: error.hint,
      cause: error,
      // What the caller knows (the image reference, say) beside what the error said.
      details: details === undefined ? error.details : { ...details, ...error.details },
    });
    return wrapped;
  }
  const systemKind = classifySystemError(error);
  const message = error instanceof Error ? error.message : String(error);
  return new AgError(systemKind.kind, `${doing}: ${message}`, { hint: systemKind.hint, cause: error, ...(details === undefined ? {} : { details }) });
}

/** Maps a Node error code (ENOSPC, ECONNREFUSED…) to an ag error kind and a hint. */
export function classifySystemError(error: unknown): { kind: ExitCodeName; hint?: string } {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOSPC':
      return { kind: 'system', hint: 'free disk space (or choose another directory) and run again' };
    case 'EDQUOT':
      return { kind: 'system', hint: 'the disk quota is exhausted; free space and run again' };
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return { kind: 'system', hint: 'check permissions (ag-nodeprep and ag-registry usually run as root)' };
    case 'ENOENT':
      return { kind: 'missing' };
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_SOCKET':
      return { kind: 'unreachable', hint: 'check the address, the network path and any proxy (HTTPS_PROXY, NO_PROXY)' };
    default:
      return { kind: 'internal' };
  }
}

/**
 * The causes of an error, itself first (at most `max`: a cycle ends there).
 * undici wraps socket errors and ag wraps with context, so what went wrong
 * underneath is found down this chain.
 */
export function causeChain(error: unknown, max = 8): Array<Record<string, unknown>> {
  const chain: Array<Record<string, unknown>> = [];
  for (let current = error; chain.length < max && current !== null && typeof current === 'object'; current = (current as { cause?: unknown }).cause) {
    chain.push(current as Record<string, unknown>);
  }
  return chain;
}

/** The first code down the causes that is not ag's own (ENOSPC, ECONNREFUSED, UND_ERR_SOCKET…). */
export function systemCodeOf(error: unknown, max = 8): string | undefined {
  return causeChain(error, max)
    .map((e) => e['code'])
    .find((c): c is string => typeof c === 'string' && c !== '' && !c.startsWith('AG_'));
}

/**
 * An error's message for a line an operator reads, with its code (found as
 * systemCodeOf finds it) when the message does not already name it: Node's
 * socket errors do ("connect ECONNREFUSED 10.0.0.1:443"), undici's do not
 * ("other side closed", UND_ERR_SOCKET).
 */
export function messageWithCode(error: unknown, max = 8): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = systemCodeOf(error, max);
  return code !== undefined && !message.includes(code) ? `${message} (${code})` : message;
}

/**
 * What `--log-format json` says of an error, in one object: the exit code,
 * the most precise code known (a registry's own, UNAUTHORIZED or
 * MANIFEST_UNKNOWN; Node's, ENOSPC or ECONNREFUSED; else ag's kind,
 * AG_MISSING), ag's kind, the path or reference it concerns when one is
 * known, the hint, and the error's details.
 */
export function errorFields(error: AgError): Record<string, unknown> {
  const chain = causeChain(error);
  const details = error.details ?? {};
  const registryCode = typeof details['registryCode'] === 'string' ? details['registryCode'] : undefined;
  const systemCode = systemCodeOf(error);
  const path = typeof details['path'] === 'string' ? details['path'] : chain.map((e) => e['path']).find((p): p is string => typeof p === 'string');
  return {
    ...details,
    exitCode: error.exitCode,
    code: registryCode ?? systemCode ?? error.code,
    kind: error.code,
    ...(path !== undefined ? { path } : {}),
    ...(error.hint !== undefined ? { hint: error.hint } : {}),
  };
}

/** Turns anything thrown into an AgError, keeping AgErrors as they are. */
export function toAgError(error: unknown): AgError {
  if (error instanceof AgError) return error;
  const { kind, hint } = classifySystemError(error);
  const message = error instanceof Error ? error.message : String(error);
  return new AgError(kind, message, { hint, cause: error });
}
