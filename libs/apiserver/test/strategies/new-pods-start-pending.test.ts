import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createApiServer, createMemoryStore, type Store } from '../../src/index';
import { podQosClass } from '../../src/strategies';

let server: ApiServer;
let store: Store;
beforeAll(async () => {
  store = createMemoryStore();
  server = createApiServer({ store, auth: { anonymous: true } });
  await server.start();
});
afterAll(async () => {
  await server.stop();
  store.close();
});

const pod = (resources?: object) => ({
  metadata: { name: 'p' },
  spec: { containers: [{ name: 'c', image: 'i', ...(resources ? { resources } : {}) }] },
});

describe('pod strategy', () => {
  it('starts a new pod Pending with its QoS class, ignoring the status sent', async () => {
    const res = await fetch(`${server.url}/api/v1/namespaces/default/pods`, {
      method: 'POST',
      body: JSON.stringify({ ...pod(), status: { phase: 'Running' } }),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { status: unknown }).status).toEqual({
      phase: 'Pending',
      qosClass: 'BestEffort',
    });
  });

  it('derives the QoS class as Kubernetes does', () => {
    const cpuMem = { cpu: '100m', memory: '64Mi' };
    expect(podQosClass(pod() as never)).toBe('BestEffort');
    expect(podQosClass(pod({ limits: cpuMem }) as never)).toBe('Guaranteed');
    expect(podQosClass(pod({ requests: cpuMem, limits: cpuMem }) as never)).toBe('Guaranteed');
    expect(podQosClass(pod({ requests: { cpu: '100m' } }) as never)).toBe('Burstable');
  });
});
