/** What the upstream program (serve.ts) reports once it is ready. */
export interface UpstreamInfo {
  /** The stand-in file hosts: `url` serves `root/<host>/<path>` (ag-fetch --mirror URL). */
  files: { url: string; root: string };
  /** The stand-in registries: one distribution registry holding `<upstream host>/<path>` (ag-images --mirror). */
  registry: {
    host: string;
    caFile: string;
    /** HOME and REGISTRY_AUTH_FILE (an auth.json with the registry's credentials) for the pulling side. */
    env: Record<string, string>;
  };
  /** The images the registry holds. */
  images: string[];
  /** The next patch release the upstream also holds (serve.ts --next-version), and its new images. */
  next?: { kubernetesVersion: string; images: string[] };
  pid: number;
  startMs: number;
}
