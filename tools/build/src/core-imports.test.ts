import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs build script, without types
import { coreExportMap, rewriteCoreImports } from '../core-imports.mjs';
import { REPO_ROOT } from './executables.js';

const CORE_SRC = join(REPO_ROOT, 'packages', 'core', 'src');

describe('the bundles import @ag/core names from their own modules', () => {
  const map = coreExportMap(CORE_SRC) as Map<string, string>;

  it('finds where each value is declared, types left out', () => {
    expect(map.get('newDocument')).toBe(join(CORE_SRC, 'document', 'new-document.ts'));
    expect(map.get('runTool')).toBe(join(CORE_SRC, 'cli.ts'));
    expect(map.get('formatBytes')).toBe(join(CORE_SRC, 'progress.ts'));
    expect(map.has('AgDocument')).toBe(false);
  });

  it('splits an import by module, drops type-only names, keeps unknown names on @ag/core and the line count', () => {
    const source = "import {\n  runTool,\n  newDocument as fresh,\n  type Io,\n  Mystery,\n} from '@ag/core';\nrunTool;\n";
    const out = rewriteCoreImports(source, map) as string;
    expect(out).toContain(`import { runTool } from ${JSON.stringify(join(CORE_SRC, 'cli.ts'))};`);
    expect(out).toContain(`import { newDocument as fresh } from ${JSON.stringify(join(CORE_SRC, 'document', 'new-document.ts'))};`);
    expect(out).toContain("import { Mystery } from '@ag/core';");
    expect(out).not.toContain('Io');
    expect(out.split('\n')).toHaveLength(source.split('\n').length);
  });
});
