/**
 * Typed reads of yargs' parsed arguments for handlers, which receive them as
 * `Record<string, unknown>` (see cli.ts: commands have no yargs handlers).
 */
type ParsedArgs = Record<string, unknown>;

/** The option's value when it is a string. */
export function argString(args: ParsedArgs, name: string): string | undefined {
  const value = args[name];
  return typeof value === 'string' ? value : undefined;
}

/** A repeatable option's values (a single value counts as one); empty when absent. */
export function argStrings(args: ParsedArgs, name: string): string[] {
  const value = args[name];
  return Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : [];
}

/** The option's value when it is a boolean. */
export function argBoolean(args: ParsedArgs, name: string): boolean | undefined {
  const value = args[name];
  return typeof value === 'boolean' ? value : undefined;
}
