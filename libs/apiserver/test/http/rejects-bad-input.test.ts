import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configMap,
  createNamespace,
  type JsonResponse,
  request,
  startServer,
  type TestServer,
  uniqueName,
} from './helpers';

// Bad requests over raw HTTP: each is answered with a Kubernetes `Status` carrying the right code
// and reason, and the server goes on serving.

let api: TestServer;
let namespace: string;
const GROUP = 'badinput.example.com';

const widgetCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `widgets.${GROUP}` },
  spec: {
    group: GROUP,
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', properties: { size: { type: 'integer' } } },
            },
          },
        },
      },
    ],
  },
};

beforeAll(async () => {
  api = await startServer();
  namespace = await createNamespace(api.url, 'bad');
  const crd = await request(
    api.url,
    'POST',
    '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
    {
      body: widgetCrd,
    },
  );
  expect(crd.status).toBe(201);
});

afterAll(async () => {
  await api?.stop();
});

const configMaps = () => `/api/v1/namespaces/${namespace}/configmaps`;

/** The answer is a failure `Status` with this code and reason. */
function expectStatus(response: JsonResponse, code: number, reason: string): void {
  expect(response.status, JSON.stringify(response.body)).toBe(code);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(response.body).toMatchObject({
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    code,
    reason,
  });
  expect(typeof response.body.message).toBe('string');
}

/** The server still answers a plain read. */
async function expectStillServing(): Promise<void> {
  const list = await request(api.url, 'GET', configMaps());
  expect(list.status).toBe(200);
  expect(list.body.kind).toBe('ConfigMapList');
}

describe('the API server refuses bad input with a Status', () => {
  it('answers a malformed JSON body with 400 BadRequest', async () => {
    const response = await request(api.url, 'POST', configMaps(), {
      raw: '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {',
    });
    expectStatus(response, 400, 'BadRequest');
    await expectStillServing();
  });

  it('answers a body of the wrong kind for the URL with 400', async () => {
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: uniqueName('svc') },
      spec: { ports: [{ port: 80 }] },
    };
    const response = await request(api.url, 'POST', configMaps(), { body: service });
    expectStatus(response, 400, 'BadRequest');
    expect(response.body.message).toContain('Service');
    await expectStillServing();
  });

  it('answers an apiVersion that does not match the URL with 400', async () => {
    const body = { ...configMap(uniqueName('cm')), apiVersion: 'apps/v1' };
    const response = await request(api.url, 'POST', configMaps(), { body });
    expectStatus(response, 400, 'BadRequest');
    expect(response.body.message).toContain('apps/v1');
    await expectStillServing();
  });

  it('answers a 5 MB object with 413 RequestEntityTooLarge', async () => {
    const body = configMap(uniqueName('big'), { blob: 'x'.repeat(5 * 1024 * 1024) });
    const response = await request(api.url, 'POST', configMaps(), { body });
    expectStatus(response, 413, 'RequestEntityTooLarge');
    await expectStillServing();
  });

  it('answers a 5 MB object sent in chunks (no Content-Length) with 413', async () => {
    const body = new TextEncoder().encode(
      JSON.stringify(configMap(uniqueName('big'), { blob: 'x'.repeat(5 * 1024 * 1024) })),
    );
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < body.length; at += 64 * 1024) {
          controller.enqueue(body.subarray(at, at + 64 * 1024));
        }
        controller.close();
      },
    });
    const response = await fetch(`${api.url}${configMaps()}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: chunks,
      duplex: 'half',
      signal: AbortSignal.timeout(10_000),
    } as RequestInit);
    expectStatus(
      { status: response.status, headers: response.headers, body: await response.json() },
      413,
      'RequestEntityTooLarge',
    );
    await expectStillServing();
  });

  it('answers an invalid label selector with 400', async () => {
    for (const selector of ['app in (a', 'a==b==c', '!']) {
      const response = await request(
        api.url,
        'GET',
        `${configMaps()}?labelSelector=${encodeURIComponent(selector)}`,
      );
      expectStatus(response, 400, 'BadRequest');
    }
    await expectStillServing();
  });

  it('answers a field selector on an unsupported field with 400', async () => {
    const response = await request(
      api.url,
      'GET',
      `${configMaps()}?fieldSelector=${encodeURIComponent('spec.nodeName=n1')}`,
    );
    expectStatus(response, 400, 'BadRequest');
    expect(response.body.message).toContain('spec.nodeName');
    await expectStillServing();
  });

  it('answers an unknown resource with 404 NotFound', async () => {
    const response = await request(api.url, 'GET', `/api/v1/namespaces/${namespace}/gizmos`);
    expectStatus(response, 404, 'NotFound');
    await expectStillServing();
  });

  it('answers an unknown group or version with 404 NotFound', async () => {
    for (const path of [
      '/apis/nope.example.com/v1/things',
      '/apis/apps/v9/deployments',
      '/apis/nope.example.com/v1',
      '/apis/nope.example.com',
      '/api/v2',
    ]) {
      const response = await request(api.url, 'GET', path);
      expectStatus(response, 404, 'NotFound');
    }
    await expectStillServing();
  });

  it('answers a PUT with a stale resourceVersion with 409 Conflict', async () => {
    const name = uniqueName('cm');
    const created = await request(api.url, 'POST', configMaps(), {
      body: configMap(name, { a: '1' }),
    });
    expect(created.status).toBe(201);
    const stale = created.body;
    const fresh = await request(api.url, 'PUT', `${configMaps()}/${name}`, {
      body: { ...stale, data: { a: '2' } },
    });
    expect(fresh.status).toBe(200);
    const response = await request(api.url, 'PUT', `${configMaps()}/${name}`, {
      body: { ...stale, data: { a: '3' } },
    });
    expectStatus(response, 409, 'Conflict');
    expect(response.body.details).toMatchObject({ name, kind: 'configmaps' });
    const after = await request(api.url, 'GET', `${configMaps()}/${name}`);
    expect(after.body.data).toEqual({ a: '2' });
  });

  it('answers a create in a missing namespace with 404 NotFound', async () => {
    const missing = uniqueName('missing');
    const response = await request(api.url, 'POST', `/api/v1/namespaces/${missing}/configmaps`, {
      body: configMap(uniqueName('cm')),
    });
    expectStatus(response, 404, 'NotFound');
    expect(response.body.message).toContain(missing);
    await expectStillServing();
  });

  it('answers an invalid name with 422 Invalid and a cause for metadata.name', async () => {
    const response = await request(api.url, 'POST', configMaps(), {
      body: configMap('Upper-Case'),
    });
    expectStatus(response, 422, 'Invalid');
    expect(response.body.details.causes).toContainEqual(
      expect.objectContaining({ field: 'metadata.name', reason: 'FieldValueInvalid' }),
    );
    await expectStillServing();
  });

  it('answers a strategic merge patch on a custom resource with 415', async () => {
    const widgets = `/apis/${GROUP}/v1/namespaces/${namespace}/widgets`;
    const name = uniqueName('w');
    const created = await request(api.url, 'POST', widgets, {
      body: { apiVersion: `${GROUP}/v1`, kind: 'Widget', metadata: { name }, spec: { size: 1 } },
    });
    expect(created.status).toBe(201);
    const response = await request(api.url, 'PATCH', `${widgets}/${name}`, {
      body: { spec: { size: 2 } },
      contentType: 'application/strategic-merge-patch+json',
    });
    expectStatus(response, 415, 'UnsupportedMediaType');
    const merged = await request(api.url, 'PATCH', `${widgets}/${name}`, {
      body: { spec: { size: 2 } },
      contentType: 'application/merge-patch+json',
    });
    expect(merged.status).toBe(200);
    expect(merged.body.spec).toEqual({ size: 2 });
  });

  it('answers unknown fields of a custom resource with 400 under fieldValidation=Strict', async () => {
    const widgets = `/apis/${GROUP}/v1/namespaces/${namespace}/widgets`;
    const name = uniqueName('w');
    const widget = {
      apiVersion: `${GROUP}/v1`,
      kind: 'Widget',
      metadata: { name },
      spec: { size: 1, colour: 'blue' },
    };
    const strict = await request(api.url, 'POST', `${widgets}?fieldValidation=Strict`, {
      body: widget,
    });
    expectStatus(strict, 400, 'BadRequest');
    expect(strict.body.message).toContain('unknown field "spec.colour"');

    // Otherwise the field is pruned, as the schema says; a strict patch adding it is refused.
    const lenient = await request(api.url, 'POST', widgets, { body: widget });
    expect(lenient.status).toBe(201);
    expect(lenient.body.spec).toEqual({ size: 1 });
    const patch = await request(api.url, 'PATCH', `${widgets}/${name}?fieldValidation=Strict`, {
      body: { spec: { shape: 'round' } },
      contentType: 'application/merge-patch+json',
    });
    expectStatus(patch, 400, 'BadRequest');
    expect(patch.body.message).toContain('unknown field "spec.shape"');
  });

  it('answers a patch of an unknown content type with 415', async () => {
    const name = uniqueName('cm');
    await request(api.url, 'POST', configMaps(), { body: configMap(name, { a: '1' }) });
    const response = await request(api.url, 'PATCH', `${configMaps()}/${name}`, {
      raw: 'a: 2',
      contentType: 'text/plain',
    });
    expectStatus(response, 415, 'UnsupportedMediaType');
    await expectStillServing();
  });

  it('answers a create with a body in a format it does not read with 415', async () => {
    const response = await request(api.url, 'POST', configMaps(), {
      raw: '<configMap name="x"/>',
      contentType: 'application/xml',
    });
    expectStatus(response, 415, 'UnsupportedMediaType');
    await expectStillServing();
  });

  it('answers protobuf of a kind it does not read with 415, and broken protobuf with 400', async () => {
    // runtime.Unknown { typeMeta = 1 { apiVersion = 1, kind = 2 }, raw = 2 }, after "k8s\0".
    const field = (number: number, bytes: Buffer) =>
      Buffer.concat([Buffer.from([(number << 3) | 2, bytes.length]), bytes]);
    const envelope = (apiVersion: string, kind: string, raw: Buffer) =>
      Buffer.concat([
        Buffer.from('k8s\0', 'latin1'),
        field(1, Buffer.concat([field(1, Buffer.from(apiVersion)), field(2, Buffer.from(kind))])),
        field(2, raw),
      ]);
    const name = field(1, field(1, Buffer.from(uniqueName('pb'))));
    const post = (path: string, raw: Buffer) =>
      request(api.url, 'POST', path, { raw, contentType: 'application/vnd.kubernetes.protobuf' });

    const deployment = await post(
      `/apis/apps/v1/namespaces/${namespace}/deployments`,
      envelope('apps/v1', 'Deployment', name),
    );
    expectStatus(deployment, 415, 'UnsupportedMediaType');
    expect(deployment.body.message).toContain('Deployment');

    const truncated = envelope('v1', 'ConfigMap', name).subarray(0, 20);
    expectStatus(await post(configMaps(), truncated), 400, 'BadRequest');
    expectStatus(await post(configMaps(), Buffer.from('{}')), 400, 'BadRequest');

    // The same envelope with a ConfigMap the server reads.
    const data = field(2, Buffer.concat([field(1, Buffer.from('k')), field(2, Buffer.from('v'))]));
    const created = await post(
      configMaps(),
      envelope('v1', 'ConfigMap', Buffer.concat([name, data])),
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ kind: 'ConfigMap', data: { k: 'v' } });
    await expectStillServing();
  });

  it('answers a failing JSON patch test with 422 and leaves the object alone', async () => {
    const name = uniqueName('cm');
    await request(api.url, 'POST', configMaps(), { body: configMap(name, { a: '1' }) });
    const response = await request(api.url, 'PATCH', `${configMaps()}/${name}`, {
      body: [
        { op: 'test', path: '/data/a', value: 'not-1' },
        { op: 'replace', path: '/data/a', value: '2' },
      ],
      contentType: 'application/json-patch+json',
    });
    expectStatus(response, 422, 'Invalid');
    const after = await request(api.url, 'GET', `${configMaps()}/${name}`);
    expect(after.body.data).toEqual({ a: '1' });
  });

  it('answers a GET of a missing object with 404 and its details', async () => {
    const response = await request(api.url, 'GET', `${configMaps()}/${uniqueName('nothing')}`);
    expectStatus(response, 404, 'NotFound');
    expect(response.body.details.kind).toBe('configmaps');
    await expectStillServing();
  });
});
