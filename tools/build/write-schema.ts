// Writes the pipeline document's JSON Schema from its single source
// (packages/core/src/document/schema.ts). Run `npm run schema` after changing a
// section; packages/core/src/document/schema.test.ts fails while the file is stale.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderDocumentSchema, SCHEMA_FILE } from '@ag/core';

const target = join(dirname(fileURLToPath(import.meta.url)), '..', '..', SCHEMA_FILE);
writeFileSync(target, renderDocumentSchema());
process.stderr.write(`wrote ${target}\n`);
