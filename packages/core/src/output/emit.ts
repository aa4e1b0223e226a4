import type { AgDocument } from '../document/schema.js';
import { writeDocument } from '../document/read-write.js';
import type { Io } from '../io.js';
import { outputMode } from './mode.js';
import type { DocumentSummary } from './summary.js';

/**
 * Writes a stage's result on stdout as `--output` (or the terminal) asks:
 * the document, the stage's summary of it, or nothing.
 */
export function emitDocument(io: Pick<Io, 'stdout'>, args: Record<string, unknown>, document: AgDocument, summary: DocumentSummary): void {
  const mode = outputMode(args, io.stdout);
  if (mode === 'json') writeDocument(io, document, args['pretty'] === true);
  else if (mode === 'table') io.stdout.write(summary(document));
}
