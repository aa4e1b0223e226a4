import { noProgress, silentLogger, VerificationError, type AgDocument, type Logger, type Progress } from '@ag/core';
import type { BundleInput } from './input.js';
import { scanBundle, type Problem, type ScanResult, type SignatureStatus } from './scan.js';
import type { PublicKey } from './signing.js';
import { payloadCount } from './sums.js';

export interface VerifyOptions {
  /** Require a signature by this key. */
  key?: PublicKey;
  log?: Logger;
  progress?: Progress;
}

export interface VerifyReport {
  ok: boolean;
  archive: string;
  signature: SignatureStatus;
  partsSignature?: SignatureStatus;
  /** Files verified, and their bytes. */
  files: number;
  /** The bundle's files by the one definition (payloadCount): what pack, inspect and bundle.contents.files say too. */
  payloadFiles: number;
  bytes: number;
  /** Files a delta leaves for the far side to supply. */
  reused: number;
  problems: Problem[];
  document: AgDocument | undefined;
}

/** The size a bundle input will have, when known before reading it. */
export function inputSize(input: BundleInput): number | undefined {
  if (input.kind === 'file') return input.size;
  if (input.kind === 'parts') return input.list.size;
  return undefined;
}

/** Says what was and was not checked about signatures (on stderr). */
export function reportSignature(log: Logger, result: Pick<ScanResult, 'signature' | 'partsSignature'>, keyGiven: boolean): void {
  if (result.signature.verified) {
    log.info(`signature verified (key ${result.signature.fingerprint}, ${result.signature.algorithm})`);
  } else if (!keyGiven && result.signature.present) {
    log.warn('the bundle is signed, but the signature was not checked: pass --key PUB.pem to require it');
  } else if (!keyGiven) {
    log.warn('the bundle is not signed: its checksums prove it is intact, not who made it');
  }
  if (result.partsSignature !== undefined && !result.partsSignature.present && !keyGiven) log.warn('the parts list is not signed');
}

/**
 * Checks a bundle without unpacking it (see scanBundle for what is checked,
 * in one streaming pass). Returns a report; never throws for a bad bundle —
 * `assertVerified` turns problems into a VerificationError.
 */
export async function verifyBundle(input: BundleInput, options: VerifyOptions = {}): Promise<VerifyReport> {
  const log = options.log ?? silentLogger;
  const progress = options.progress ?? noProgress;
  const task = progress.task(`verifying ${input.label}`, inputSize(input) ?? 0);
  let result: ScanResult;
  try {
    result = await scanBundle(input, { ...(options.key === undefined ? {} : { key: options.key }), onBytes: (n) => task.advance(n) });
  } finally {
    task.done();
  }
  reportSignature(log, result, options.key !== undefined);
  return {
    ok: result.problems.length === 0,
    archive: input.label,
    signature: result.signature,
    ...(result.partsSignature === undefined ? {} : { partsSignature: result.partsSignature }),
    files: result.files,
    payloadFiles: payloadCount(result.sums.keys()),
    bytes: result.bytes,
    reused: result.reused.length,
    problems: result.problems,
    document: result.document,
  };
}

/** Logs every problem (each names its item) and throws one VerificationError for them all; `hint` replaces the usual advice. */
export function assertNoProblems(archive: string, problems: Problem[], log: Logger, doing: string, hint?: string): void {
  if (problems.length === 0) return;
  for (const problem of problems) {
    log.error(`${problem.kind}: ${problem.message}${problem.parts !== undefined && problem.parts.length > 0 ? ` [on ${problem.parts.join(', ')}]` : ''}`, {
      item: problem.item,
      problem: problem.kind,
    });
  }
  const items = [...new Set(problems.map((problem) => problem.item))];
  // A part whose own sha256 is wrong is the bad disc; a file spanning several parts only narrows it down.
  const partProblems = problems.filter((problem) => problem.kind.startsWith('part-'));
  const badParts = [...new Set((partProblems.length > 0 ? partProblems : problems).flatMap((problem) => problem.parts ?? []))];
  throw new VerificationError(`${doing} ${archive}: ${problems.length} problem(s) with ${items.slice(0, 10).join(', ')}${items.length > 10 ? ', …' : ''}`, {
    hint:
      hint ??
      (badParts.length > 0
        ? `copy ${badParts.join(', ')} again from the connected side (the other parts are good), then run verify again`
        : problems.every((problem) => problem.kind === 'signature')
          ? 'check that --key is the public half of the key that signed it (ag-bundle inspect shows the signer\'s fingerprint); if it is, the bundle was altered: do not use it'
          : 'do not use this bundle: carry it again from the connected side (ag-bundle verify there first)'),
    details: { problems: problems.map(({ item, kind }) => ({ item, kind })) },
  });
}
