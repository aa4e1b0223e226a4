import { AgError, type AgDocument } from '@ag/core';

/**
 * A push that ends on repeated 5xx from the registry ag-registry runs (the
 * document's registry section has its directory and log): say where to look.
 * A distribution registry whose storage is full answers 500 to every upload
 * ("no space left on device" is only in its log), so "try again later" alone
 * leads nowhere.
 */
export function explainOwnRegistryFailure(error: unknown, registry: AgDocument['registry'] | undefined): unknown {
  if (!(error instanceof AgError) || registry === undefined || registry.external === true || registry.dir === undefined) return error;
  const status = error.details?.['status'];
  if (typeof status !== 'number' || status < 500) return error;
  const log = registry.log ?? `${registry.dir}/registry.log`;
  return new AgError(error.kind, error.message, {
    cause: error,
    details: { ...error.details, registryDir: registry.dir, registryLog: log },
    hint:
      `the registry ag-registry runs keeps failing (HTTP ${status}): run ag-registry status --dir ${registry.dir} (it reports the storage's free space; ` +
      `--gc removes stale partial uploads) and read ${log} (a full disk shows there as "no space left on device"); then run the same push again`,
  });
}
