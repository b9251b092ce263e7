// Each request gets a child logger bound to its request id. Making a pino child serializes its
// bindings, about a fiftieth of a small read's CPU time, and most requests never log a line when
// request lines are off (LOG_LEVEL warn and above): the child is made on the first line that is
// logged.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level, LogFn, Logger } from 'pino';

const LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

class LazyChildLogger {
  #child: Logger | undefined;

  declare fatal: LogFn;
  declare error: LogFn;
  declare warn: LogFn;
  declare info: LogFn;
  declare debug: LogFn;
  declare trace: LogFn;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
  ) {}

  /** The real child, made once. */
  get made(): Logger {
    return (this.#child ??= this.parent.child(this.bindings));
  }

  get level(): string {
    return this.#child ? this.#child.level : this.parent.level;
  }

  set level(level: string) {
    this.made.level = level;
  }

  isLevelEnabled(level: string): boolean {
    return (this.#child ?? this.parent).isLevelEnabled(level);
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.made.child(bindings, options);
  }
}

for (const level of LEVELS) {
  Object.defineProperty(LazyChildLogger.prototype, level, {
    value: function (this: LazyChildLogger, ...args: Parameters<LogFn>) {
      if (this.isLevelEnabled(level)) this.made[level](...args);
    },
  });
}

/** Fastify's childLoggerFactory: as logger.child(bindings), made when first used. */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  // A route-level log level belongs to the child from the start.
  if (options.level !== undefined) return logger.child(bindings, options);
  return new LazyChildLogger(logger as Logger, bindings) as unknown as FastifyBaseLogger;
}
