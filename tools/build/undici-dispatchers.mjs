// An esbuild plugin for every bundle of a tool (bundle-bins.mjs): undici as ag uses it
// (packages/core/src/lazy-modules.ts, UndiciDispatchers), its connection pools and nothing else.
//
// - ag's import of `undici` gets undici-dispatchers.cjs in place of undici's index.js (that file says
//   why), its require()s resolved in the installed undici's directory: the pools are undici's own code.
//   A package in node_modules that imports undici would still get the real index.
// - undici's Client requires its HTTP/2 code (lib/dispatcher/client-h2.js) at load, and that requires
//   node:http2 (~4 ms of a pull's start, 2026-12-03). Its Client calls it only for a connection whose
//   TLS handshake chose h2 (lib/dispatcher/client.js), which it offers only with `allowH2`
//   (lib/core/connect.js; ag never sets it). Here Client gets a function that loads the real one when
//   first called. The build checks that client-h2.js still exports that one function.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dispatchersEntry = join(dirname(fileURLToPath(import.meta.url)), 'undici-dispatchers.cjs');
const UNDICI_CLIENT = /[\\/]node_modules[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/;

export function undiciDispatchersPlugin() {
  return {
    name: 'undici-dispatchers',
    setup(build) {
      build.onResolve({ filter: /^undici$/ }, async (args) => {
        if (/[\\/]node_modules[\\/]/.test(args.importer) || args.pluginData?.real) return undefined;
        const real = await build.resolve('undici', { kind: args.kind, resolveDir: args.resolveDir, pluginData: { real: true } });
        if (real.errors.length > 0) return { errors: real.errors };
        return { path: real.path, namespace: 'undici-dispatchers' };
      });
      build.onLoad({ filter: /.*/, namespace: 'undici-dispatchers' }, async (args) => ({
        contents: await readFile(dispatchersEntry, 'utf8'),
        resolveDir: dirname(args.path),
        loader: 'js',
        watchFiles: [dispatchersEntry],
      }));

      build.onResolve({ filter: /^\.\/client-h2(\.js)?$/ }, (args) => (UNDICI_CLIENT.test(args.importer) ? { path: join(args.resolveDir, 'client-h2.js'), namespace: 'undici-lazy-h2' } : undefined));
      build.onLoad({ filter: /.*/, namespace: 'undici-lazy-h2' }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        if (!/^module\.exports = connectH2$/m.test(source)) {
          return { errors: [{ text: `${args.path} no longer ends in "module.exports = connectH2": see how undici's client.js uses it now, and change the lazy stand-in in tools/build/undici-dispatchers.mjs` }] };
        }
        return {
          contents: [
            "'use strict';",
            'let connectH2;',
            'module.exports = function lazyConnectH2(...args) {',
            `  connectH2 ??= require(${JSON.stringify(args.path)});`,
            '  return connectH2(...args);',
            '};',
          ].join('\n'),
          resolveDir: dirname(args.path),
          loader: 'js',
        };
      });
    },
  };
}
