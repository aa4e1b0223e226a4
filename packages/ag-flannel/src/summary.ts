import { summarise, type DocumentSummary } from '@ag/core';

/** What ag-flannel prints on a terminal instead of the document. */
export const summaries: Record<string, DocumentSummary> = {
  render: summarise('ag-flannel render: done', { sections: ['flannel'], details: (d) => (d.flannel?.images ?? []).map((i) => `${i.upstream} -> ${i.pinned}`) }),
  apply: summarise('ag-flannel apply: done', {
    sections: ['flannel'],
    details: (d) => (d.flannel?.nodes ?? []).map((n) => `${n.name}: ${n.ready ? 'Ready' : 'not ready'}${n.pod !== undefined ? `, ${n.pod} Running` : ''}`),
  }),
};
