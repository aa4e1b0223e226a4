/** What the site registry (serve.ts) reports once it is ready. */
export interface SiteRegistryInfo {
  /** `127.0.0.1:PORT` it listens on in the far namespace (its name maps there in /etc/hosts). */
  listen: string;
  /** The CA that issued its certificate, as the site hands it out. */
  caFile: string;
  /** The account ag uses (`user:password`, 0600), as a Harbor robot account is handed out. */
  credentialsFile: string;
}
