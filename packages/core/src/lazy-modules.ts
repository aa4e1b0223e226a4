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

let wasmTierUpOff = false;

export async function loadUndici(): Promise<UndiciDispatchers> {
  if (!wasmTierUpOff) {
    // undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles it
    // fast (Liftoff), then again optimised (TurboFan) on a background thread,
    // and a process cannot exit before that job ends: 100 to 250 ms after the
    // document is written, on every run (a no-op pull took 0.4 s, a third of
    // it that tail; packages/ag-images/README.md). llhttp's work is small next
    // to the bytes it hands on, so the optimised code is not worth waiting
    // for. Node.js 20's V8 reads this flag when it compiles a module, so it
    // holds when set now, before undici's first connection. Node.js 24's does
    // not take it at run time: the executables start with it instead
    // (EXECUTABLE_V8_FLAGS, tools/build/src/executables.ts).
    // node:v8 is imported statically: a built-in through import() fails in the node-run tools on Node.js 20,
    // whose V8 code cache loses import()'s loader (tools/build/src/bin-code-cache.test.ts).
    setFlagsFromString('--liftoff-only');
    wasmTierUpOff = true;
  }
  return moduleExports(await import('undici'));
}
