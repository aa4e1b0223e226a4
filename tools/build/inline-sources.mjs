// An esbuild plugin for every bundle (bundle-bins.mjs): modules that read a
// package's CommonJS source from node_modules at run time, to evaluate it in a
// worker thread (new Worker(source, { eval: true }) needs no second file),
// are replaced by modules that return that source as a string. A tool's
// bundle and the single executable have no node_modules.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Module (from the repository root) -> the function it exports and the package whose `require` entry it returns. */
const INLINED = {
  'packages/ag-registry/src/embedded/bcrypt-source.ts': { exportName: 'bcryptSource', packageName: 'bcryptjs' },
};

export function inlineSourcesPlugin(root) {
  const byPath = new Map(Object.entries(INLINED).map(([path, what]) => [join(root, path), what]));
  return {
    name: 'ag-inline-sources',
    setup(build) {
      build.onLoad({ filter: /-source\.ts$/ }, (args) => {
        const what = byPath.get(args.path);
        if (what === undefined) return undefined;
        const file = createRequire(join(dirname(args.path), 'inline.js')).resolve(what.packageName);
        const text = readFileSync(file, 'utf8');
        return { contents: `export function ${what.exportName}() { return ${JSON.stringify(text)}; }`, loader: 'js', watchFiles: [file] };
      });
    },
  };
}
