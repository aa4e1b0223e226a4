import type { Io } from './io.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'text' | 'json';

const rank: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  readonly level: LogLevel;
  readonly format: LogFormat;
}

export interface LoggerOptions {
  tool: string;
  level?: LogLevel;
  format?: LogFormat;
}

/**
 * Logs to stderr, never stdout (stdout is the document). Text lines read
 * `ag-fetch: message`; JSON lines carry time, level, tool, msg and any fields.
 */
export function createLogger(io: Pick<Io, 'stderr'>, options: LoggerOptions): Logger {
  const level = options.level ?? 'info';
  const format = options.format ?? 'text';
  const write = (at: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (rank[at] > rank[level]) return;
    if (format === 'json') {
      io.stderr.write(
        `${JSON.stringify({ time: new Date().toISOString(), level: at, tool: options.tool, msg: message, ...fields })}\n`,
      );
      return;
    }
    const prefix = at === 'info' ? '' : `${at}: `;
    io.stderr.write(`${options.tool}: ${prefix}${message}\n`);
  };
  return {
    level,
    format,
    error: (m, f) => write('error', m, f),
    warn: (m, f) => write('warn', m, f),
    info: (m, f) => write('info', m, f),
    debug: (m, f) => write('debug', m, f),
  };
}

/** A logger that drops everything, for library callers that want silence. */
export const silentLogger: Logger = {
  level: 'error',
  format: 'text',
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
};
