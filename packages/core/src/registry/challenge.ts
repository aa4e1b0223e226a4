/** One `WWW-Authenticate` challenge: its scheme and parameters (RFC 7235). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses `WWW-Authenticate` values such as
 * `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/x:pull"`
 * or `Basic realm="Registry Realm"`. Parameter names are lowercased; quoted
 * values may hold commas and escaped quotes.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const challenges: Challenge[] = [];
  for (const value of values) {
    let rest = value.trim();
    while (rest.length > 0) {
      const scheme = /^([A-Za-z][\w-]*)\s*/.exec(rest);
      if (!scheme) break;
      const challenge: Challenge = { scheme: scheme[1]!.toLowerCase(), params: {} };
      rest = rest.slice(scheme[0].length);
      for (;;) {
        const param = /^([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/.exec(rest);
        if (!param) break;
        challenge.params[param[1]!.toLowerCase()] = param[2] !== undefined ? param[2].replace(/\\(.)/g, '$1') : (param[3] ?? '');
        rest = rest.slice(param[0].length);
      }
      challenges.push(challenge);
      rest = rest.replace(/^[\s,]+/, '');
    }
  }
  return challenges;
}
