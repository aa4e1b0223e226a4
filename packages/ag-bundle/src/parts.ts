import { basename } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { API_VERSION, Sha256Hex, VerificationError } from '@ag/core';

/**
 * A split bundle is `FILE.tar.000`, `FILE.tar.001`… (plain byte ranges of
 * the one tar: `cat FILE.tar.* > FILE.tar` rebuilds it) plus the parts list
 * `FILE.tar.parts`, signed as `FILE.tar.parts.sig`, which names every
 * part's size and sha256, so one bad disc can be named before the archive
 * is read.
 */
export const PartsList = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('BundleParts'),
  /** The name the whole archive has when the parts are joined. */
  bundle: Type.String(),
  size: Type.Integer({ minimum: 0 }),
  sha256: Sha256Hex,
  partSize: Type.Integer({ minimum: 1 }),
  parts: Type.Array(
    Type.Object({
      file: Type.String({ pattern: '^[^/]+$' }),
      size: Type.Integer({ minimum: 0 }),
      sha256: Sha256Hex,
    }),
    { minItems: 1 },
  ),
});
export type PartsList = Static<typeof PartsList>;
export type PartInfo = PartsList['parts'][number];

export const PARTS_SUFFIX = '.parts';
export const PARTS_SIGNATURE_SUFFIX = '.parts.sig';

/** How many parts `size` bytes make at `partSize` each (at least one, even when empty). */
export function partCount(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize));
}

/** `FILE.tar.000`: three digits, more when there are more than a thousand parts. */
export function partName(bundlePath: string, index: number, count: number): string {
  return `${bundlePath}.${String(index).padStart(Math.max(3, String(count - 1).length), '0')}`;
}

/** `FILE.tar.007` -> `FILE.tar`; undefined for a name that is not a part. */
export function bundleOfPart(path: string): string | undefined {
  const match = /^(.*)\.\d{3,}$/.exec(path);
  return match?.[1];
}

/**
 * The parts list's text: one part per line, so it reads well and a part's
 * line can be compared with `sha256sum FILE.tar.001` by eye.
 */
export function renderPartsList(list: PartsList): string {
  const head = JSON.stringify({ ...list, parts: undefined }).slice(0, -1);
  const parts = list.parts.map((part) => `  ${JSON.stringify(part)}`).join(',\n');
  return `${head},"parts":[\n${parts}\n]}\n`;
}

/** Reads a parts list; a malformed one is a VerificationError naming the file. */
export function parsePartsList(text: string, path: string): PartsList {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new VerificationError(`${basename(path)} is not valid JSON (${(error as Error).message})`, {
      hint: 'the parts list was damaged: copy it again from the connected side (it is small)',
    });
  }
  if (!Value.Check(PartsList, value)) {
    const first = [...Value.Errors(PartsList, value)][0];
    throw new VerificationError(`${basename(path)} is not a bundle parts list (${first?.path || '$'}: ${first?.message ?? 'invalid'})`);
  }
  return value;
}
