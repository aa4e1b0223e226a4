/**
 * Debian control-file stanzas (deb822): `Field: value` lines, continuation
 * lines starting with a space or tab, stanzas separated by blank lines. The
 * format of Packages indexes, Release files and dpkg's status file.
 */

/** One stanza; field order is kept (Map), since dpkg and apt write Package first. */
export type Stanza = Map<string, string>;

export function parseStanzas(text: string): Stanza[] {
  const stanzas: Stanza[] = [];
  let current: Stanza | undefined;
  let lastField: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      current = undefined;
      lastField = undefined;
      continue;
    }
    if ((line.startsWith(' ') || line.startsWith('\t')) && current !== undefined && lastField !== undefined) {
      current.set(lastField, `${current.get(lastField)}\n${line}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (current === undefined) {
      current = new Map();
      stanzas.push(current);
    }
    lastField = line.slice(0, colon);
    current.set(lastField, line.slice(colon + 1).trim());
  }
  return stanzas;
}

export function formatStanza(stanza: Stanza): string {
  return `${[...stanza].map(([field, value]) => `${field}: ${value}`).join('\n')}\n`;
}

export function formatStanzas(stanzas: readonly Stanza[]): string {
  return stanzas.map(formatStanza).join('\n');
}

/** A required field, or an error naming the stanza. */
export function field(stanza: Stanza, name: string): string {
  const value = stanza.get(name);
  if (value === undefined) throw new Error(`stanza of ${stanza.get('Package') ?? '?'} has no ${name} field`);
  return value;
}
