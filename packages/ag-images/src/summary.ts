import { summarise, type AgDocument, type DocumentSummary } from '@ag/core';

/** `ref  platforms` per image, the digest shortened as docker prints it. */
function imageLines(document: AgDocument, show: (image: NonNullable<AgDocument['images']>['images'][number]) => string): string[] {
  return (document.images?.images ?? []).map(show);
}

const short = (digest: string): string => digest.slice(0, 19);

/** What ag-images prints on a terminal instead of the document (`--output json` gives the document). */
export const summaries: Record<string, DocumentSummary> = {
  pull: (document) =>
    summarise(`ag-images pull: ${document.images?.images.length ?? 0} image(s) in ${document.images?.layout ?? 'the layout'}`, {
      sections: ['images'],
      details: (d) => imageLines(d, (i) => `${i.ref}  ${short(i.digest)}  ${i.manifests.map((m) => m.platform).join(',')}${i.partial ? ' (subset)' : ''}`),
    })(document),
  push: (document) =>
    summarise(`ag-images push: ${document.images?.images.filter((i) => i.internalRef !== undefined).length ?? 0} image(s) in ${document.images?.push?.registry ?? 'the registry'}`, {
      sections: ['images', 'registry'],
      details: (d) => imageLines(d, (i) => `${i.ref} -> ${i.internalRef ?? '(not pushed)'}`),
    })(document),
  verify: summarise('ag-images verify: every blob matches its digest', { sections: ['images'] }),
  gc: summarise('ag-images gc: done', { sections: ['images'] }),
  import: summarise('ag-images import: done', { sections: ['images'] }),
};
