import type { AgDocument } from './schema.js';

// In a module of their own, without the schema: every tool's command line
// uses them, and schema.ts brings TypeBox and every section's schema along,
// which a start compiles for nothing (npm run bench:startup).

/** The apiVersion this build writes. */
export const API_VERSION = 'ag/v1alpha1';
/** Every apiVersion this build reads. */
export const READABLE_API_VERSIONS: readonly string[] = [API_VERSION];
export const KIND = 'Cluster';

/** A new, empty document. */
export function newDocument(): AgDocument {
  return { apiVersion: API_VERSION, kind: KIND };
}
