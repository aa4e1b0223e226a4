// An esbuild plugin for every bundle of a tool (bundle-bins.mjs): rewrites each
// `import { a, b } from '@ag/core'` in the tools' sources into imports of the
// core modules that define a and b.
//
// Why: a bundle evaluates at start every module a start *reaches* through
// import statements (esbuild decides before tree shaking; in a split build,
// which chunks a start loads). @ag/core's index re-exports every core module,
// so a cli.ts that imports one name from it reaches them all, and whatever
// any subcommand uses (TypeBox and the document schema, the registry client,
// yaml…) is evaluated at every start. Imported from where they are defined,
// a start reaches only what the command line uses. The program is the same:
// the same modules, the same bindings.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const DECLARATION = /^export\s+(?:declare\s+)?(?:async\s+)?(?:function\*?|const|let|var|class|abstract\s+class|enum)\s+([A-Za-z_$][\w$]*)/gm;
const LOCAL_EXPORT_LIST = /^export\s*\{([^}]*)\}\s*;/gm;
const CORE_IMPORT = /import\s*\{([^}]*)\}\s*from\s*'@ag\/core'\s*;/g;

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'testing' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Value name -> the core source file that declares it (types are left out: esbuild drops them anyway). */
export function coreExportMap(coreSrc) {
  const map = new Map();
  for (const file of sourceFiles(coreSrc)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(DECLARATION)) map.set(match[1], file);
    // `export { formatBytes };` of a name declared in the same file
    for (const match of text.matchAll(LOCAL_EXPORT_LIST)) {
      for (const name of match[1].split(',').map((n) => n.trim()).filter((n) => n !== '' && !n.startsWith('type '))) map.set(name, file);
    }
  }
  return map;
}

/** The source with its @ag/core imports split by defining module; names not in the map stay on @ag/core. */
export function rewriteCoreImports(source, map) {
  return source.replace(CORE_IMPORT, (whole, list) => {
    const byFile = new Map();
    const rest = [];
    for (const raw of list.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      if (raw.startsWith('type ')) continue;
      const name = raw.split(/\s+as\s+/)[0];
      const file = map.get(name);
      if (file === undefined) rest.push(raw);
      else byFile.set(file, [...(byFile.get(file) ?? []), raw]);
    }
    const lines = [...byFile].map(([file, names]) => `import { ${names.join(', ')} } from ${JSON.stringify(file)};`);
    if (rest.length > 0) lines.push(`import { ${rest.join(', ')} } from '@ag/core';`);
    // Keep the line count: a profile's lines still point at the source.
    const breaks = (whole.match(/\n/g) ?? []).length;
    return lines.join(' ') + '\n'.repeat(breaks);
  });
}

export function coreImportsPlugin(root) {
  const coreSrc = resolve(root, 'packages', 'core', 'src');
  let map;
  return {
    name: 'ag-core-imports',
    setup(build) {
      build.onLoad({ filter: /[\\/]packages[\\/]ag-[^\\/]+[\\/]src[\\/].*\.ts$/ }, (args) => {
        map ??= coreExportMap(coreSrc);
        return { contents: rewriteCoreImports(readFileSync(args.path, 'utf8'), map), loader: 'ts', resolveDir: dirname(args.path) };
      });
    },
  };
}
