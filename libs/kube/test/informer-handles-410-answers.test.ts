import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createInformer } from '../src/index';
import { kubeConfigFor, recordEvents, silentLogger, stateOf } from './helpers/api-server';

/*
 * The 410 answers a Kubernetes API server gives and @ke/apiserver does not produce on demand:
 * an expired `continue` token in the middle of a paged list, and a watch refused with HTTP 410
 * (instead of an ERROR event in a 200 stream). A stub server on loopback answers in that order.
 */

const item = (name: string, resourceVersion: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'stub', resourceVersion },
});

const expired = {
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  reason: 'Expired',
  code: 410,
  message: 'The provided continue parameter is too old',
};

let server: Server;
let url = '';
const requests: string[] = [];
const streams = new Set<ServerResponse>();
let continueAnswers = 0;
let watchAnswers = 0;

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://stub').searchParams;
    const described = [...query].map(([name, value]) => `${name}=${value}`).join('&');
    requests.push(described);
    const list = (items: unknown[], metadata: Record<string, string>) =>
      json(res, 200, { apiVersion: 'v1', kind: 'ConfigMapList', metadata, items });
    if (query.get('watch') === 'true') {
      watchAnswers += 1;
      if (watchAnswers === 1) {
        json(res, 410, { ...expired, message: 'too old resource version: 11 (12)' });
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      streams.add(res);
      res.on('close', () => streams.delete(res));
      res.write(`${JSON.stringify({ type: 'ADDED', object: item('d', '13') })}\n`);
      return;
    }
    if (query.get('continue')) {
      continueAnswers += 1;
      if (continueAnswers === 1) json(res, 410, expired);
      else list([item('c', '9')], { resourceVersion: '12' });
      return;
    }
    if (query.get('limit')) {
      list([item('a', '7'), item('b', '8')], { resourceVersion: '12', continue: 'token' });
      return;
    }
    list([item('a', '7'), item('b', '8'), item('c', '9')], { resourceVersion: '11' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of streams) res.destroy();
  await new Promise((resolve) => server.close(resolve));
});

it('lists in one page when a continue token expires, and re-lists when a watch gets HTTP 410', async () => {
  const informer = createInformer({
    kubeConfig: kubeConfigFor(url),
    path: '/api/v1/configmaps',
    namespace: 'stub',
    pageSize: 2,
    logger: silentLogger,
    watchTimeoutSeconds: 60,
    backoff: { initialMs: 10, maxMs: 50 },
  });
  const recorded = recordEvents(informer);
  informer.start();
  await informer.waitForSync(AbortSignal.timeout(5000));
  expect([...stateOf(informer.list())]).toEqual([
    ['stub/a', '7'],
    ['stub/b', '8'],
    ['stub/c', '9'],
  ]);
  await waitFor('the add from the second watch', () => informer.get('stub/d') !== undefined, {
    timeoutMs: 5000,
  });
  expect(requests).toEqual([
    'limit=2',
    'limit=2&continue=token',
    // The expired continue token: everything in one page.
    '',
    'watch=true&resourceVersion=11&allowWatchBookmarks=true&timeoutSeconds=60',
    // HTTP 410 on the watch: list again.
    'limit=2',
    'limit=2&continue=token',
    'watch=true&resourceVersion=12&allowWatchBookmarks=true&timeoutSeconds=60',
  ]);
  // The re-list changed nothing, so nothing was re-delivered.
  expect(recorded.events.map((event) => `${event.type} ${event.key}`)).toEqual([
    'add stub/a',
    'add stub/b',
    'add stub/c',
    'add stub/d',
  ]);
  expect(informer.lastSyncResourceVersion).toBe('13');
  await informer.stop();
});
