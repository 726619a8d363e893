/**
 * The API server under test, run as a child of `run.ts` so that the client load does not share
 * its event loop. Usage: `node --conditions=@ke/source --import tsx server.ts <store>` where
 * `<store>` is `:memory:` or the path of a SQLite file. Prints one JSON line
 * `{"url": …, "pid": …}` on stdout once listening; stops when stdin closes or on SIGTERM.
 */
import { createApiServer, createMemoryStore, createSqliteStore } from '@ke/apiserver';

const target = process.argv[2];
if (!target) {
  console.error('usage: server.ts <:memory: | sqlite file path>');
  process.exit(2);
}

const store = target === ':memory:' ? createMemoryStore() : createSqliteStore({ path: target });
const server = createApiServer({
  store,
  port: 0,
  auth: { anonymous: true },
  logger: {
    // Report what the server would only log: a slow watcher being cut off, a failed request.
    warn: (fields, message) => console.error(`[server warn] ${message}`, fields),
  },
});

let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(code), 5000);
  force.unref();
  try {
    await server.stop();
    store.close();
  } finally {
    process.exit(code);
  }
}

process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));
// The parent holds our stdin: when it goes away (even killed), so do we.
process.stdin.on('end', () => void shutdown(0));
process.stdin.on('close', () => void shutdown(0));
process.stdin.resume();

await server.start();
process.stdout.write(`${JSON.stringify({ url: server.url, pid: process.pid })}\n`);
