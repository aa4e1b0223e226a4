import { summarise, type DocumentSummary } from '@ag/core';

const kubeadmFirst = (title: string): DocumentSummary => summarise(title, { sections: ['kubeadm', 'cluster'] });

/** What ag-kubeadm prints on a terminal instead of the document. */
export const summaries: Record<string, DocumentSummary> = {
  config: kubeadmFirst('ag-kubeadm config: written'),
  preflight: kubeadmFirst('ag-kubeadm preflight: every image kubeadm asks for is there'),
  init: kubeadmFirst('ag-kubeadm init: done'),
  join: kubeadmFirst('ag-kubeadm join: done'),
  reset: kubeadmFirst('ag-kubeadm reset: done'),
  upgrade: (document) => {
    const u = document.kubeadm?.upgrade;
    return summarise(u === undefined ? 'ag-kubeadm upgrade' : `ag-kubeadm upgrade ${u.from} -> ${u.to} (${u.kind})`, {
      sections: ['kubeadm'],
      details: () => (u?.steps ?? []).map((s) => `${s.node}: ${s.step} ${s.status}${s.detail !== undefined ? ` (${s.detail})` : ''}`),
    })(document);
  },
};
