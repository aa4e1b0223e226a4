import { summarise, type AgDocument, type DocumentSummary } from '@ag/core';

function components(document: AgDocument): string[] {
  const c = document.fetch?.components ?? {};
  const shown = ['kubernetes', 'containerd', 'flannel', 'etcd', 'coredns', 'pause'].filter((name) => c[name] !== undefined);
  return shown.length === 0 ? [] : [shown.map((name) => `${name} ${c[name]}`).join(', ')];
}

/** What ag-fetch prints on a terminal instead of the document. */
export const summaries: Record<string, DocumentSummary> = {
  plan: summarise('ag-fetch plan: planned', { sections: ['fetch', 'cluster', 'packages'], details: components }),
  download: (document) =>
    summarise(document.fetch?.dryRun !== undefined ? 'ag-fetch download --dry-run: nothing fetched, nothing written' : `ag-fetch download: into ${document.root ?? 'the bundle root'}`, {
      sections: ['fetch', 'packages'],
    })(document),
  check: summarise('ag-fetch check: ready to download', { sections: ['fetch'] }),
};
