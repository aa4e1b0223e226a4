import { UsageError } from './errors.js';

const UNITS: Record<string, number> = {
  '': 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  TB: 1000 ** 4,
  KIB: 1024,
  MIB: 1024 ** 2,
  GIB: 1024 ** 3,
  TIB: 1024 ** 4,
};

/**
 * Reads a size the way coreutils `split -b` does: `700M`, `4G`, `25G` are
 * binary (1024-based); `4GB` is decimal; `4GiB` is binary; a bare number is
 * bytes.
 */
export function parseSize(text: string, flag = '--split'): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = match?.[2]?.toUpperCase();
  const multiplier = unit === undefined ? undefined : UNITS[unit === 'B' ? '' : unit];
  if (match === null || multiplier === undefined) {
    throw new UsageError(`${flag} ${JSON.stringify(text)} is not a size`, { hint: `write it like 700M, 4G or 25G (1024-based) or 4700MB (1000-based)` });
  }
  const bytes = Math.floor(Number(match[1]) * multiplier);
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new UsageError(`${flag} ${JSON.stringify(text)} must be at least one byte`);
  return bytes;
}
