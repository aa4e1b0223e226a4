import type { AgDocument } from '../document/schema.js';
import { formatBytes } from '../progress.js';

/** A stage's summary of the document, for a person at a terminal. */
export type DocumentSummary = (document: AgDocument) => string;

type SectionName = Exclude<keyof AgDocument, 'apiVersion' | 'kind' | 'root'>;

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/** One or a few lines per section: what a person asks first of each. */
const SECTION_LINES: { [K in SectionName]-?: (section: NonNullable<AgDocument[K]>) => string[] } = {
  cluster: (c) => [`Kubernetes ${c.kubernetesVersion}, ${c.architectures.join(', ')}, ${c.os}, pods ${c.podSubnet ?? '?'}, services ${c.serviceSubnet ?? '?'}`],
  fetch: (f) => {
    const lines = [`${count(f.files.length, 'file')} and ${count(f.images.length, 'image')} planned${f.site !== undefined ? ` (site file ${f.site.path})` : ''}`];
    if (f.dryRun !== undefined) {
      const fetching = f.dryRun.files.filter((file) => file.action === 'fetch').length;
      const sizes = [...(f.dryRun.bytes > 0 || f.dryRun.unknownSizes === 0 ? [formatBytes(f.dryRun.bytes)] : []), ...(f.dryRun.unknownSizes > 0 ? [`${f.dryRun.unknownSizes} of a size known once fetched`] : [])];
      lines.push(`dry run: would fetch ${fetching} file(s) (${sizes.join(' + ')}); ${f.dryRun.files.length - fetching} already present`);
    }
    if (f.download !== undefined) {
      lines.push(
        `downloaded ${count(f.download.files, 'file')}, ${formatBytes(f.download.bytes)}` +
          (f.download.fetched !== undefined ? `: ${f.download.fetched} fetched, ${f.download.reused ?? 0} already there` : ''),
      );
    }
    return lines;
  },
  packages: (p) => [`${count(p.requested.length, 'OS package')} requested for ${p.os} (${p.format})${p.closure !== undefined ? `, ${count(p.closure.length, 'package')} carried` : ''}`],
  images: (i) => [
    `${count(i.images.length, 'image')} in ${i.layout} (${i.platforms.join(', ') || 'every platform'})` +
      (i.push !== undefined ? `, pushed to ${i.push.registry}` : ''),
  ],
  bundle: (b) => [
    `${b.file}: ${formatBytes(b.size)}${b.parts !== undefined ? ` in ${count(b.parts.length, 'part')}` : ''}, ${b.signed ? `signed (${b.signatureAlgorithm ?? '?'})` : 'unsigned'}` +
      (b.contents !== undefined ? `, ${count(b.contents.files, 'file')} (${formatBytes(b.contents.bytes)})` : ''),
  ],
  registry: (r) => {
    const where = r.endpoint ?? r.dir ?? '(not started)';
    const lines = [`registry ${where}${r.prefix !== undefined ? `/${r.prefix}` : ''}${r.mode !== undefined ? ` (${r.mode})` : ''}${r.external === true ? ' (the site\'s)' : ''}`];
    if (r.status !== undefined) {
      const s = r.status;
      lines.push(
        s.answering
          ? `answering; TLS ${s.tls.valid ? 'valid' : `not valid: ${s.tls.error ?? '?'}`}; ${s.repositories ?? '?'} repositories, ${s.blobs ?? '?'} blobs`
          : `down${s.running ? ' (running, not answering)' : ''}: ${s.error ?? 'no answer'}`,
      );
    }
    return lines;
  },
  nodeprep: (n) => [`${n.mode ?? 'plan'} on ${n.os.name ?? n.os.id} at ${n.root}: ${n.changes} change(s), ${n.actions.filter((a) => a.status === 'unchanged').length} already as wanted`],
  kubeadm: (k) => [
    `Kubernetes ${k.kubernetesVersion} on node ${k.node.name} (${k.node.advertiseAddress}:${k.node.bindPort}); images from ${k.imageRepository}` +
      (k.joined !== undefined ? `; joined ${k.joined.apiServerEndpoint}` : '') +
      (k.initializedAt !== undefined ? '; control plane initialised' : ''),
  ],
  scan: (s) => {
    const found = s.items.filter((item) => item.result === 'found').length;
    const failed = s.items.filter((item) => item.result === 'error').length;
    return [`scanned ${count(s.items.length, 'item')}: ${s.items.length - found - failed} clean, ${found} with findings, ${failed} failed`];
  },
  flannel: (f) => [
    `flannel ${f.backend} for ${f.podSubnet}, ${count(f.images.length, 'image')} pinned` +
      (f.nodes !== undefined ? `; ${f.nodes.filter((n) => n.ready).length} of ${f.nodes.length} node(s) ready` : ''),
  ],
};

const ORDER = Object.keys(SECTION_LINES) as SectionName[];

/** The lines for one section, or none when the document lacks it. */
export function sectionLines(document: AgDocument, name: SectionName): string[] {
  const section = document[name];
  if (section === undefined) return [];
  return (SECTION_LINES[name] as (s: unknown) => string[])(section);
}

/**
 * A summary that heads with `title`, then the stage's own `details` (when
 * given), then a line per section of the document, the stage's `sections`
 * first. Ends with how to get the document itself.
 */
export function summarise(title: string, options: { sections?: SectionName[]; details?: (document: AgDocument) => string[] } = {}): DocumentSummary {
  return (document) => {
    const first = options.sections ?? [];
    const names = [...first, ...ORDER.filter((n) => !first.includes(n))];
    const lines = [title, ...(options.details?.(document) ?? []).map((l) => `  ${l}`)];
    const sections = names.flatMap((name) => sectionLines(document, name).map((line) => `  ${name.padEnd(9)} ${line}`));
    if (sections.length > 0) lines.push('', 'The document:', ...sections);
    lines.push('', 'In a pipe or with --output json this stage writes the document instead.');
    return `${lines.join('\n')}\n`;
  };
}
