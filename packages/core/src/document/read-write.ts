import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { UsageError, withContext } from '../errors.js';
import type { Io } from '../io.js';
import type { AgDocument } from './schema.js';

export interface ReadDocumentOptions {
  /** `--in FILE`; `-` means stdin. */
  inPath?: string | undefined;
  /**
   * Whether the command cannot work without a document. When false, a
   * terminal or empty stdin yields `undefined` (flags alone suffice).
   */
  required: boolean;
}

/** What every tool says when stdin brought no document (README, "One vocabulary"). */
export const EMPTY_STDIN = 'no document on stdin: the stage before this one produced nothing — did it fail?';
const EMPTY_STDIN_HINT = 'look at its error above; run pipelines with set -o pipefail, so that they stop at the first stage that fails';

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads the document from `--in FILE` or stdin and validates it.
 * Never waits on a terminal: with no pipe and no `--in`, there is no document.
 */
export async function readDocument(io: Io, options: ReadDocumentOptions): Promise<AgDocument | undefined> {
  const fromFile = options.inPath !== undefined && options.inPath !== '-';
  const source = fromFile ? `reading the document from ${options.inPath}` : 'reading the document from stdin';
  if (!fromFile && io.stdin.isTTY) {
    if (!options.required && options.inPath === undefined) return undefined;
    throw new UsageError('no document: stdin is a terminal', {
      hint: "pipe the previous stage's output into this one, or pass --in FILE",
    });
  }
  let text: string;
  try {
    text = fromFile ? await readFile(resolve(io.cwd, options.inPath as string), 'utf8') : await readAll(io.stdin);
  } catch (error) {
    throw withContext(source, error);
  }
  // A byte-order mark is no part of JSON (RFC 8259 section 8.1 lets a parser ignore one); editors on Windows write it.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') {
    if (fromFile) throw new UsageError(`${source}: the file is empty`, { hint: 'pass the file a stage wrote (ag-<tool> … > FILE)' });
    // Optional on stdin: flags alone may do, unless a pipe brought nothing (every tool says the same then).
    if (!options.required && io.stdinIsPipe !== true) return undefined;
    throw new UsageError(EMPTY_STDIN, { hint: EMPTY_STDIN_HINT });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${source}: not valid JSON (${(error as Error).message})`, {
      hint: 'stdout of an ag stage carries only the document; was something else written into the pipe?',
    });
  }
  // Loaded here, not at the top: the schema (TypeBox and every section's types) costs each start ~110 KB to compile,
  // and --help or --version never reads a document (npm run bench:startup).
  const { validateDocument } = await import('./validate.js');
  return validateDocument(parsed, source);
}

/** Writes the document to stdout: compact by default, indented with `pretty`. */
export function writeDocument(io: Pick<Io, 'stdout'>, document: AgDocument, pretty = false): void {
  io.stdout.write(`${JSON.stringify(document, null, pretty ? 2 : undefined)}\n`);
}
