import { formatBytes, summarise, type AgDocument, type DocumentSummary } from '@ag/core';

function bundleLine(document: AgDocument): string[] {
  const b = document.bundle;
  if (b === undefined) return [];
  return [
    `${b.file}: ${formatBytes(b.size)}${b.parts !== undefined ? ` in ${b.parts.length} part(s)` : ''}; ${b.contents?.files ?? '?'} file(s) listed in SHA256SUMS`,
    b.signed ? `signed (${b.signatureAlgorithm ?? '?'}), key ${b.keyFingerprint?.slice(0, 16) ?? '?'}…` : 'unsigned: its checksums prove it intact, not who made it',
    ...(b.delta !== undefined ? [`delta: ${b.delta.reused.length} file(s) (${formatBytes(b.delta.reusedBytes)}) left for the far side to supply`] : []),
  ];
}

/** What ag-bundle prints on a terminal instead of the document. */
export const summaries: Record<string, DocumentSummary> = {
  pack: summarise('ag-bundle pack: written', { sections: ['bundle'], details: bundleLine }),
  verify: summarise('ag-bundle verify: every file matches SHA256SUMS', { sections: ['bundle'], details: bundleLine }),
  unpack: (document) => summarise(`ag-bundle unpack: unpacked into ${document.root ?? '?'}`, { sections: ['bundle'], details: bundleLine })(document),
};
