// A drop-in for node:assert inside yargs (an esbuild plugin in bundle-bins.mjs
// routes yargs's import of it here). yargs checks two invariants of its own
// with it (build/lib/typings/common-types.js: notStrictEqual, strictEqual);
// node:assert itself loads Node's assertion error, colour and inspection
// modules, ~5 ms at every start, for checks that hold. Same semantics
// (Object.is), an Error with node:assert's code when one fails.
function fail(message, otherwise) {
  if (message instanceof Error) throw message;
  const error = new Error(message ?? otherwise);
  error.code = 'ERR_ASSERTION';
  throw error;
}

export function notStrictEqual(actual, expected, message) {
  if (Object.is(actual, expected)) fail(message, `Expected "actual" to be strictly unequal to: ${String(expected)}`);
}

export function strictEqual(actual, expected, message) {
  if (!Object.is(actual, expected)) fail(message, `Expected values to be strictly equal: ${String(actual)} !== ${String(expected)}`);
}
