import { isSea } from 'node:sea';
import { hostArchitecture } from './program.js';

/**
 * Whether this process is ag's single executable (`ag`, a Node.js SEA with
 * every tool inside) rather than node running a tool's .mjs file or its
 * TypeScript source.
 */
export function runningAsExecutable(): boolean {
  return isSea();
}

/** What `--version` adds after a tool's own version: the Node.js it runs on, and whether that is built in. */
export function runtimeDescription(): string {
  return runningAsExecutable()
    ? `Node.js ${process.version} built in: single executable for linux/${hostArchitecture()}`
    : `Node.js ${process.version} at ${process.execPath}`;
}
