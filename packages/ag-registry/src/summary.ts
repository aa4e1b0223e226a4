import { summarise, type DocumentSummary } from '@ag/core';

/** What ag-registry prints on a terminal instead of the document. */
export const summaries: Record<string, DocumentSummary> = {
  status: (document) => {
    const s = document.registry?.status;
    const state = s === undefined ? 'unknown' : s.answering && s.tls.valid ? 'up' : s.answering ? 'answering, TLS not valid' : 'down';
    return summarise(`ag-registry status: ${state}`, {
      sections: ['registry'],
      details: (d) => {
        const images = d.registry?.status?.images;
        return images === undefined ? [] : [`${images.present} of ${images.checked} image(s) there`, ...images.missing.map((ref) => `missing: ${ref}`)];
      },
    })(document);
  },
  up: summarise('ag-registry up: running', { sections: ['registry'] }),
  certs: summarise('ag-registry certs: done', { sections: ['registry'] }),
  trust: summarise('ag-registry trust: done', { sections: ['registry'] }),
  down: summarise('ag-registry down: done', { sections: ['registry'] }),
};
