// Writes the JSON Schemas from their single sources: the pipeline document
// (packages/core/src/document/schema.ts) and the site file
// (packages/core/src/site/schema.ts). Run `npm run schema` after changing
// either; their schema.test.ts files fail while a committed file is stale.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderDocumentSchema, renderSiteSchema, SCHEMA_FILE, SITE_SCHEMA_FILE } from '@ag/core';

const repository = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
for (const [file, text] of [
  [SCHEMA_FILE, renderDocumentSchema()],
  [SITE_SCHEMA_FILE, renderSiteSchema()],
] as const) {
  writeFileSync(join(repository, file), text);
  process.stderr.write(`wrote ${join(repository, file)}\n`);
}
