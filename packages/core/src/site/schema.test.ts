import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderSiteSchema, SITE_SCHEMA_FILE } from './schema.js';

describe('the committed site file JSON Schema', () => {
  it('is generated from the TypeBox source (run `npm run schema` when this fails)', () => {
    const committed = readFileSync(fileURLToPath(new URL(`../../../../${SITE_SCHEMA_FILE}`, import.meta.url)), 'utf8');
    expect(committed).toBe(renderSiteSchema());
  });
});
