/**
 * HTTP backends for end-to-end tests: `http-backends.ts <ip>:<port>:<name> ...` answers every
 * request on each address with the backend's name, prints `ready` once all listen, and exits
 * on SIGTERM. Run it inside the test's network namespace with `startSource(..., { netns })`.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';

const servers: Server[] = [];
for (const spec of process.argv.slice(2)) {
  const [ip, port, name] = spec.split(':');
  if (!ip || !port || !name) throw new Error(`"${spec}" is not <ip>:<port>:<name>`);
  const server = createServer((request, response) => {
    request.resume();
    response.end(name);
  });
  server.listen(Number(port), ip);
  await once(server, 'listening');
  servers.push(server);
}
console.log('ready');
process.once('SIGTERM', () => {
  for (const server of servers) server.close();
  for (const server of servers) server.closeAllConnections();
});
