import { writeFileAtomic, UsageError, type Logger } from '@ag/core';
import type { BundleInput } from '../input.js';
import { inspectBundle } from '../inspect.js';
import { readLedger } from '../ledger.js';
import { ledgerPath } from '../ledger-path.js';
import { DOCUMENT_FILE } from '../sums.js';
import { gatherFigures, type ReportFigures } from './figures.js';
import { renderHtml, renderMarkdown } from './render.js';

export interface ReportOptions {
  /** The HTML page to write; the Markdown twin goes next to it (`.md`). */
  out: string;
  /** Where the sites' ledgers are (for what changed since the site's last bundle). */
  stateDir: string;
  log: Logger;
}

/** `report.html` -> `report.md`. */
export function markdownPathFor(out: string): string {
  return out.replace(/\.html?$/i, '') + '.md';
}

/**
 * Writes the approver's page for a bundle, and its Markdown twin: what
 * crosses, sizes by component, versions and sources, what changed since the
 * site's last bundle (from the site's ledger), the scan results and the
 * signature's key fingerprint. Every figure comes from the bundle itself
 * (its members and its bundle.json), read the way inspect reads it.
 */
export async function writeReport(input: BundleInput, options: ReportOptions): Promise<ReportFigures> {
  const report = await inspectBundle(input, 0);
  if (report.document?.bundle === undefined) {
    throw new UsageError(`${report.archive} carries no readable ${DOCUMENT_FILE} with a bundle section: not an ag bundle, or damaged`, { hint: 'run ag-bundle verify on it' });
  }
  const site = report.document.bundle.site;
  const ledger = site === undefined ? undefined : await readLedger(ledgerPath(site.name, options.stateDir), site.name);
  if (site !== undefined && ledger !== undefined && !ledger.entries.some((entry) => entry.id === site.id)) {
    options.log.warn(`the ledger ${ledger.path} does not list ${site.id}: the page cannot say what changed since the site's last bundle`);
  }
  const figures = await gatherFigures(input, report, ledger);
  const markdown = markdownPathFor(options.out);
  await writeFileAtomic(options.out, renderHtml(figures));
  await writeFileAtomic(markdown, renderMarkdown(figures));
  options.log.info(`wrote ${options.out} and ${markdown}`);
  return figures;
}
