import { formatBytes } from '@ag/core';
import type { ReportFigures } from './figures.js';

/** One fact: a label, its value, and a key the HTML carries (`data-figure`) so a reader or a test can find it. */
interface Fact {
  label: string;
  value: string;
  key?: string;
}

interface Section {
  title: string;
  facts?: Fact[];
  table?: { columns: string[]; rows: string[][] };
  note?: string;
}

const bytes = (n: number): string => `${formatBytes(n)} (${n} bytes)`;
const short = (digest: string | undefined): string => (digest === undefined ? '—' : digest);

/** The page's content, once: both renderings below read it. */
function sections(f: ReportFigures): Section[] {
  const out: Section[] = [];
  out.push({
    title: 'What crosses',
    facts: [
      { label: 'Bundle', value: f.bundle, key: 'bundle' },
      ...(f.id === undefined ? [] : [{ label: 'Bundle id', value: f.id, key: 'id' }]),
      ...(f.builtOn.length === 0 ? [] : [{ label: 'Builds on (must be on the far side)', value: f.builtOn.join(', '), key: 'built-on' }]),
      { label: 'Size', value: bytes(f.archiveBytes), key: 'archive-bytes' },
      { label: 'SHA-256', value: short(f.archiveSha256), key: 'archive-sha256' },
      { label: 'Members in the archive', value: String(f.entries), key: 'entries' },
      { label: 'Packed at', value: f.packedAt ?? '—' },
      ...(f.parts.length === 0 ? [] : [{ label: 'Parts', value: f.parts.map((part) => `${part.file} (${part.size} bytes)`).join(', '), key: 'parts' }]),
    ],
  });
  out.push({
    title: 'Signature',
    facts: f.signed
      ? [
          { label: 'Signed', value: 'yes', key: 'signed' },
          { label: 'Algorithm', value: f.signatureAlgorithm ?? '—' },
          { label: 'Key fingerprint (SHA-256 of the public key, DER)', value: f.keyFingerprint ?? '—', key: 'key-fingerprint' },
        ]
      : [{ label: 'Signed', value: 'no: its checksums prove it intact, not who made it', key: 'signed' }],
  });
  out.push({
    title: 'Sizes by component (carried in the archive)',
    table: {
      columns: ['component', 'files', 'bytes'],
      rows: [...f.categories.map((c) => [c.name, String(c.files), String(c.bytes)]), ['total', String(f.categories.reduce((s, c) => s + c.files, 0)), String(f.categories.reduce((s, c) => s + c.bytes, 0))]],
    },
    ...(f.reused === undefined ? {} : { note: `A delta: ${f.reused.files} more file(s), ${bytes(f.reused.bytes)}, are listed but not carried; the far side already has them.` }),
  });
  out.push({
    title: 'Changes since the site\'s last bundle',
    ...(f.changes === undefined
      ? { note: f.site === undefined ? 'Not packed for a site (pack --site): no ledger to compare with.' : 'The first bundle of the site, or its ledger was not given (--state-dir).' }
      : {
          facts: [
            { label: 'Previous bundle', value: f.changes.previous, key: 'previous' },
            { label: 'Added', value: String(f.changes.added.length), key: 'added' },
            { label: 'Changed', value: String(f.changes.changed.length), key: 'changed' },
            { label: 'Removed', value: String(f.changes.removed.length), key: 'removed' },
          ],
          table: {
            columns: ['change', 'file'],
            rows: [...f.changes.added.map((p) => ['added', p]), ...f.changes.changed.map((p) => ['changed', p]), ...f.changes.removed.map((p) => ['removed', p])],
          },
        }),
  });
  out.push({
    title: `Files (${f.files.length}): versions and sources`,
    table: { columns: ['name', 'version', 'source', 'sha256', 'licence'], rows: f.files.map((x) => [x.name, x.version ?? '—', x.url, short(x.sha256), x.licence ?? 'not stated']) },
  });
  out.push({
    title: `Images (${f.images.length})`,
    table: { columns: ['reference', 'digest', 'platforms'], rows: f.images.map((x) => [x.ref, x.digest, x.platforms.join(', ')]) },
  });
  out.push({
    title: `OS packages (${f.packages.length})`,
    table: { columns: ['name', 'version', 'architecture'], rows: f.packages.map((x) => [x.name, x.version, x.arch]) },
    ...(f.packageSources.length === 0 ? {} : { note: `Resolved against: ${f.packageSources.join('; ')}` }),
  });
  out.push({
    title: 'Scan results',
    ...(f.scan === undefined
      ? { note: 'Not scanned (ag-bundle scan) and not packed with --require-scan.' }
      : {
          facts: [
            { label: 'Gate (pack --require-scan)', value: f.scan.required ? 'required: every item scanned, every finding accepted' : 'not required', key: 'scan-required' },
            { label: 'Scan records', value: String(f.scan.items), key: 'scan-items' },
            { label: 'Clean', value: String(f.scan.clean), key: 'scan-clean' },
            { label: 'Scanners', value: f.scan.scanners.join('; ') },
          ],
          table: {
            columns: ['item', 'scanner', 'result', 'findings', 'accepted because'],
            rows: f.scan.flagged.map((x) => [
              x.name,
              x.scanner,
              x.result,
              x.findings.join(', '),
              x.findings.map((id) => f.scan!.accepted.find((a) => a.id === id)?.reason ?? 'not accepted').join('; '),
            ]),
          },
        }),
  });
  return out;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;color:#1b1b1b}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}td{font-family:ui-monospace,monospace;font-size:.92em;word-break:break-all}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0;font-family:ui-monospace,monospace}`;

/** One self-contained HTML page: inline style, no script, no external resource. */
export function renderHtml(f: ReportFigures): string {
  const parts = sections(f).map((section) => {
    const facts =
      section.facts === undefined
        ? ''
        : `<dl>${section.facts.map((fact) => `<dt>${escapeHtml(fact.label)}</dt><dd${fact.key === undefined ? '' : ` data-figure="${fact.key}"`}>${escapeHtml(fact.value)}</dd>`).join('')}</dl>`;
    const table =
      section.table === undefined || section.table.rows.length === 0
        ? ''
        : `<table><thead><tr>${section.table.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${section.table.rows
            .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`)
            .join('')}</tbody></table>`;
    const noteText = section.note ?? (facts === '' && table === '' ? 'None.' : undefined);
    const note = noteText === undefined ? '' : `<p>${escapeHtml(noteText)}</p>`;
    return `<section><h2>${escapeHtml(section.title)}</h2>${facts}${table}${note}</section>`;
  });
  const title = `ag bundle ${f.id ?? f.bundle}: for approval`;
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><h1>${escapeHtml(title)}</h1>${parts.join('\n')}</body></html>\n`;
}

function escapeMarkdown(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The same page as Markdown, for a change ticket. */
export function renderMarkdown(f: ReportFigures): string {
  const lines: string[] = [`# ag bundle ${f.id ?? f.bundle}: for approval`, ''];
  for (const section of sections(f)) {
    lines.push(`## ${section.title}`, '');
    for (const fact of section.facts ?? []) lines.push(`- ${fact.label}: \`${fact.value}\``);
    if ((section.facts ?? []).length > 0) lines.push('');
    if (section.table !== undefined && section.table.rows.length > 0) {
      lines.push(`| ${section.table.columns.join(' | ')} |`, `| ${section.table.columns.map(() => '---').join(' | ')} |`);
      for (const row of section.table.rows) lines.push(`| ${row.map(escapeMarkdown).join(' | ')} |`);
      lines.push('');
    }
    if (section.note !== undefined) lines.push(section.note, '');
    else if ((section.facts ?? []).length === 0 && (section.table?.rows.length ?? 0) === 0) lines.push('None.', '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
