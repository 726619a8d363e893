import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configMap, createNamespace, request, startServer, type TestServer } from './helpers';

// Optimistic concurrency over HTTP: writers that read, increment and PUT with the resourceVersion
// they read, retrying on 409 Conflict, never overwrite each other's increments.

const WRITERS = 20;
const INCREMENTS = 10;

let api: TestServer;
let namespace: string;

beforeAll(async () => {
  api = await startServer();
  namespace = await createNamespace(api.url, 'counter');
});

afterAll(async () => {
  await api?.stop();
});

describe('concurrent writers', () => {
  it(`count to ${WRITERS} × ${INCREMENTS} with GET + PUT and retries on conflict`, {
    timeout: 60_000,
  }, async () => {
    const path = `/api/v1/namespaces/${namespace}/configmaps/counter`;
    const created = await request(api.url, 'POST', `/api/v1/namespaces/${namespace}/configmaps`, {
      body: configMap('counter', { count: '0' }),
    });
    expect(created.status).toBe(201);

    let conflicts = 0;
    const increment = async () => {
      for (;;) {
        const current = await request(api.url, 'GET', path);
        expect(current.status).toBe(200);
        const next = {
          ...current.body,
          data: { count: String(Number(current.body.data.count) + 1) },
        };
        const written = await request(api.url, 'PUT', path, { body: next });
        if (written.status === 200) return;
        expect(written.status, JSON.stringify(written.body)).toBe(409);
        expect(written.body.reason).toBe('Conflict');
        conflicts++;
      }
    };
    const writer = async () => {
      for (let i = 0; i < INCREMENTS; i++) await increment();
    };
    await Promise.all(Array.from({ length: WRITERS }, writer));

    const final = await request(api.url, 'GET', path);
    expect(final.body.data.count).toBe(String(WRITERS * INCREMENTS));
    // One revision per successful write after the create: nothing was written twice or lost.
    expect(
      Number(final.body.metadata.resourceVersion) - Number(created.body.metadata.resourceVersion),
    ).toBe(WRITERS * INCREMENTS);
    // The writers really did race (otherwise the test proves nothing about conflicts).
    expect(conflicts).toBeGreaterThan(0);
  });
});
