/**
 * A small structured logger. Text by default (`2026-11-22T14:00:00.000Z info xds: pushed ...`),
 * JSON with TRELLIS_LOG_FORMAT=json; level from TRELLIS_LOG_LEVEL (debug|info|warn|error).
 * Options are read when a root logger is created, never at import time.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface LogSink {
  write(line: string): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'text' | 'json';
  sink?: LogSink;
}

export class Logger {
  constructor(
    readonly component: string,
    private readonly options: Required<LoggerOptions>,
  ) {}

  private get min(): number {
    return ORDER[this.options.level];
  }

  /** The level of this logger and every logger it shares a root with (children included). */
  get level(): LogLevel {
    return this.options.level;
  }

  /** Changes the level at runtime for the whole tree (the proxy's admin `POST /logging?level=`). */
  setLevel(level: LogLevel): void {
    this.options.level = level;
  }

  child(component: string): Logger {
    return new Logger(this.component ? `${this.component}.${component}` : component, this.options);
  }

  enabled(level: LogLevel): boolean {
    return ORDER[level] >= this.min;
  }

  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }

  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }

  private log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (ORDER[level] < this.min) return;
    const time = new Date().toISOString();
    if (this.options.format === 'json') {
      this.options.sink.write(
        JSON.stringify({ time, level, component: this.component, msg, ...fields }) + '\n',
      );
      return;
    }
    let line = `${time} ${level} ${this.component}: ${msg}`;
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        line += ` ${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`;
      }
    }
    this.options.sink.write(line + '\n');
  }
}

const stderrSink: LogSink = { write: (line) => void process.stderr.write(line) };

export function createLogger(component: string, options: LoggerOptions = {}, env = process.env): Logger {
  const envLevel = env.TRELLIS_LOG_LEVEL as LogLevel | undefined;
  const level: LogLevel = options.level ?? (envLevel && envLevel in ORDER ? envLevel : 'info');
  const format = options.format ?? (env.TRELLIS_LOG_FORMAT === 'json' ? 'json' : 'text');
  return new Logger(component, { level, format, sink: options.sink ?? stderrSink });
}

/** A logger that records lines in memory, for tests. */
export function memoryLogger(component = 'test'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = new Logger(component, {
    level: 'debug',
    format: 'text',
    sink: { write: (l) => void lines.push(l) },
  });
  return { logger, lines };
}

export const silentLogger = new Logger('', {
  level: 'silent',
  format: 'text',
  sink: { write: () => undefined },
});
