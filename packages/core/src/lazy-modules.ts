/**
 * The CommonJS libraries ag loads on first use, not at start (undici's
 * pools, with llhttp's WebAssembly, are a third of ag-images' bundle; npm run
 * bench:startup). Through here because a
 * dynamic import() of CommonJS gives `module.exports` as `default` and its
 * names only where the loader can find them: Node.js does, an esbuild
 * bundle (tools/build/bundle-bins.mjs) may give `default` alone.
 * `default ?? namespace` is right in every build and under tsx.
 */
import { setFlagsFromString } from 'node:v8';

/**
 * What ag takes from undici: its connection pools. A request goes through the
 * pool's own `request()` (`dispatchRequest`), never undici's top-level
 * functions. The tools' bundles hold exactly this much of undici
 * (tools/build/undici-dispatchers.cjs): no fetch, WebSocket, cookies, cache,
 * mocks, whose modules cost a pull ~20 ms of start-up (cookies reads
 * `globalThis.Headers`, which loads and runs Node.js's own copy of undici;
 * packages/ag-images/README.md). Something more from undici goes here and in
 * that file.
 */
export type UndiciDispatchers = Pick<typeof import('undici'), 'Agent' | 'EnvHttpProxyAgent'>;

/** What `await import()` of a CommonJS package gave: its exports, in every build. */
export function moduleExports<T>(namespace: T): T {
  return (namespace as { default?: T }).default ?? namespace;
}

/**
 * V8 flags for undici's llhttp, set once undici is loaded and before its first connection compiles llhttp.
 *
 * undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles it fast (Liftoff), then again optimised
 * (TurboFan) on a background thread once a function is hot, and a process cannot exit before that job ends: 58 to
 * 250 ms after the document is written (a no-op pull took 0.4 s, a third of it that tail;
 * packages/ag-images/README.md). llhttp's work is small next to the bytes it hands on, so the optimised code is not
 * worth waiting for.
 * - Both flags by name: `--liftoff-only` implies them at start, but Node.js 24's V8 applies no implication to a flag
 *   set at run time, and compiled llhttp with TurboFan under it (tools/build/src/executables.test.ts holds both Node.js
 *   versions to this).
 * - Set at run time, not at start: any V8 flag given at start that is not a default makes Node.js reject the code
 *   cache of each of its own modules, and compile them from source (NODE_DEBUG_NATIVE=CODE_CACHE: 51 rejected for
 *   node:tls alone). Set after undici's import, so that the built-ins undici requires load with their cache too.
 */
export const LLHTTP_V8_FLAGS = '--no-wasm-tier-up --no-wasm-dynamic-tiering';

let wasmTierUpOff = false;

export async function loadUndici(): Promise<UndiciDispatchers> {
  const undici = moduleExports(await import('undici'));
  if (!wasmTierUpOff) {
    // node:v8 is imported statically: a built-in through import() fails in the node-run tools on Node.js 20,
    // whose V8 code cache loses import()'s loader (tools/build/src/bin-code-cache.test.ts).
    setFlagsFromString(LLHTTP_V8_FLAGS);
    wasmTierUpOff = true;
  }
  return undici;
}
