// `coffer serve`: run the server until SIGTERM or SIGINT, then shut down gracefully.
import { loadConfig } from '../../config.js';
import { exitAfterFlushingLogs } from '../../logger.js';
import { startServer } from '../../server.js';

const SHUTDOWN_DEADLINE_MS = 10_000;

export async function serve(): Promise<void> {
  const config = loadConfig();
  const server = await startServer(config);
  server.logger.info({ url: server.url, console: `${server.url}/console/`, store: server.store.kind }, 'coffer is listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.logger.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
    const deadline = setTimeout(() => {
      server.logger.error('shutdown took longer than 10 s; exiting anyway');
      exitAfterFlushingLogs(server.logger, 1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    server.close().then(
      () => {
        server.logger.info('stopped');
        exitAfterFlushingLogs(server.logger, 0);
      },
      (error: unknown) => {
        server.logger.error({ err: error }, 'error while shutting down');
        exitAfterFlushingLogs(server.logger, 1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
