import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PropertyValue } from './device';

/** What the REST API reads from the mapper. */
export interface RestSource {
  /** `undefined`: no such device; `null`: the device has no such property. */
  property(namespace: string, name: string, property: string): PropertyValue | undefined | null;
}

/** KubeEdge mapper-framework's API version, as its ping answer names it. */
export const REST_API_VERSION = 'v1';

const DEVICE_PATH = /^\/api\/v1\/device\/([^/]+)\/([^/]+)\/([^/]+)\/?$/;

function send(response: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function handle(source: RestSource, request: IncomingMessage, response: ServerResponse): void {
  const path = new URL(request.url ?? '/', 'http://mapper').pathname;
  if (request.method !== 'GET') {
    send(response, 405, {
      statusCode: 405,
      message: `${request.method} is not allowed on ${path}`,
    });
    return;
  }
  if (path === '/api/v1/ping' || path === '/api/v1/ping/') {
    send(response, 200, {
      apiVersion: REST_API_VERSION,
      statusCode: 200,
      timeStamp: new Date().toISOString(),
      message: `This is ${REST_API_VERSION} API, the server is running normally.`,
    });
    return;
  }
  const match = DEVICE_PATH.exec(path);
  if (match) {
    const [namespace, name, propertyName] = match.slice(1).map(decodeURIComponent) as [
      string,
      string,
      string,
    ];
    const value = source.property(namespace, name, propertyName);
    if (value === undefined) {
      send(response, 404, {
        statusCode: 404,
        code: 'KE_MAPPER_DEVICE_NOT_FOUND',
        message: `no device ${namespace}/${name} on this mapper`,
      });
    } else if (value === null) {
      send(response, 404, {
        statusCode: 404,
        code: 'KE_MAPPER_PROPERTY_NOT_FOUND',
        message: `device ${namespace}/${name} has no value for property ${propertyName} (unknown property, or not read yet)`,
      });
    } else {
      send(response, 200, {
        deviceName: name,
        propertyName,
        value: value.value,
        timestamp: value.timestamp,
        type: value.type,
      });
    }
    return;
  }
  send(response, 404, { statusCode: 404, message: `no route ${path}` });
}

/** The mapper's REST API (mapper-framework's `httpadapter`), on node:http. */
export async function startRestApi(
  source: RestSource,
  port: number,
  host: string,
): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => handle(source, request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}

export async function stopRestApi(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
