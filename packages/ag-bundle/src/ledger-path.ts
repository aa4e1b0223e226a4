import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '@ag/core';

// Where a site's ledger is, apart from the ledger itself (ledger.ts, with its TypeBox schemas): the command
// line needs these for its options and checks, and a start that only parses it need not load the schemas.

const SITE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function checkSiteName(name: string): void {
  if (!SITE_NAME.test(name)) {
    throw new UsageError(`--site ${JSON.stringify(name)} is not a site name`, { hint: 'use letters, digits, dots, dashes and underscores (it names a directory), e.g. plant-a' });
  }
}

/** `$XDG_STATE_HOME/ag` or `~/.local/state/ag`: where the connected side keeps its ledgers. */
export function defaultStateDir(env: Record<string, string | undefined> = process.env): string {
  const xdg = env['XDG_STATE_HOME'];
  return join(xdg !== undefined && xdg.startsWith('/') ? xdg : join(env['HOME'] ?? homedir(), '.local', 'state'), 'ag');
}

export function ledgerPath(site: string, stateDir: string): string {
  return join(stateDir, 'sites', site, 'ledger.jsonl');
}
