/** The first lines of every file ag-nodeprep writes whole: who wrote it, and that a re-run overwrites it. */
export function generatedHeader(step: string, why: string, comment = '#'): string {
  return `${comment} Written by ag-nodeprep (step ${step}): ${why}.\n${comment} ag-nodeprep apply rewrites this file; change its options instead of editing here.\n`;
}
