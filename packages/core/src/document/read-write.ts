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
  if (text.trim() === '') {
    if (!options.required && !fromFile) return undefined;
    throw new UsageError(`${source}: it was empty, so the stage before this one probably failed`, {
      hint: 'look at the previous stage\'s error above; with "set -o pipefail" the pipeline stops at the first failure',
    });
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
