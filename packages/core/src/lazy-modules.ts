/**
 * The CommonJS libraries ag loads on first use, not at start (undici is
 * half of a tool's code; npm run bench:startup). Through here because a
 * dynamic import() of CommonJS gives `module.exports` as `default` and its
 * names only where the loader can find them: Node.js does, the split build
 * (tools/build/bundle-bins.mjs, esbuild code splitting) gives `default`
 * alone. `default ?? namespace` is right in every build and under tsx.
 */
type Undici = typeof import('undici');

/** What `await import()` of a CommonJS package gave: its exports, in every build. */
export function moduleExports<T>(namespace: T): T {
  return (namespace as { default?: T }).default ?? namespace;
}

export async function loadUndici(): Promise<Undici> {
  return moduleExports(await import('undici'));
}
