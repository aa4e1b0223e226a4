import type { Io } from '../io.js';

/**
 * What a stage writes on stdout: `json` the document (what the next stage
 * reads), `table` a short summary for a person, `none` nothing at all (the
 * exit code and stderr say how it went).
 */
export type OutputMode = 'json' | 'table' | 'none';

export const OUTPUT_MODES: readonly OutputMode[] = ['json', 'table', 'none'];

/**
 * `--output` when given; else a summary when stdout is a terminal (nobody
 * reads 20 KB of JSON there) and the document in a pipe or a file, as
 * before, so scripts see no change.
 */
export function outputMode(args: Record<string, unknown>, stdout: Io['stdout']): OutputMode {
  const flag = args['output'];
  if (typeof flag === 'string' && (OUTPUT_MODES as readonly string[]).includes(flag)) return flag as OutputMode;
  return stdout.isTTY === true ? 'table' : 'json';
}
