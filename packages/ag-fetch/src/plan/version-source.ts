import type { FetchSection } from '@ag/core';

/** Where one version in the plan came from (recorded in `fetch.versionSources`). */
export type VersionSource = NonNullable<FetchSection['versionSources']>[string];
