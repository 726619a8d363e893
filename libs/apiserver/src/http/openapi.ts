import { createHash } from 'node:crypto';
import { groupVersion, type ResourceInfo, type ResourceRegistry } from '../registry';

/**
 * Just enough OpenAPI v3 for kubectl: the root lists one document per group/version, and each
 * document has the operations of its resources, with `x-kubernetes-group-version-kind` and the
 * `fieldValidation` query parameter on PATCH. kubectl reads that to know the server validates
 * fields itself (it then sends `fieldValidation=Strict` instead of validating client-side).
 * Custom resources also carry their CRD schema, so `kubectl explain` can show it.
 */

const QUERY_PARAMETERS = ['dryRun', 'fieldManager', 'fieldValidation', 'pretty'].map((name) => ({
  name,
  in: 'query',
  description: `${name} (see the Kubernetes API reference)`,
  schema: { type: 'string', uniqueItems: true },
}));

/** `api/v1` or `apis/apps/v1`: the key kubectl looks documents up by. */
function documentKey(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

function schemaName(info: ResourceInfo): string {
  const reversed = (info.group || 'core').split('.').reverse().join('.');
  return `${reversed}.${info.version}.${info.kind}`;
}

function operations(info: ResourceInfo) {
  const gvk = { group: info.group, version: info.version, kind: info.kind };
  const ref = { $ref: `#/components/schemas/${schemaName(info)}` };
  const body = { content: { 'application/json': { schema: ref } } };
  const ok = { '200': { description: 'OK', content: { 'application/json': { schema: ref } } } };
  const op = (action: string, extra: object = {}) => ({
    operationId: `${action}${info.kind}`,
    parameters: QUERY_PARAMETERS,
    responses: ok,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    ...extra,
  });
  return {
    get: op('get'),
    put: op('put', { requestBody: body }),
    patch: op('patch', {
      requestBody: {
        content: {
          'application/json-patch+json': { schema: { type: 'object' } },
          'application/merge-patch+json': { schema: { type: 'object' } },
          ...(info.custom
            ? {}
            : { 'application/strategic-merge-patch+json': { schema: { type: 'object' } } }),
        },
      },
    }),
    delete: op('delete'),
  };
}

function groupVersionDocument(resources: readonly ResourceInfo[]) {
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const info of resources) {
    const prefix = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
    const scope = info.namespaced ? '/namespaces/{namespace}' : '';
    paths[`${prefix}${scope}/${info.resource}/{name}`] = operations(info);
    paths[`${prefix}${scope}/${info.resource}`] = {
      post: {
        operationId: `create${info.kind}`,
        parameters: QUERY_PARAMETERS,
        responses: { '201': { description: 'Created' } },
        'x-kubernetes-action': 'post',
        'x-kubernetes-group-version-kind': {
          group: info.group,
          version: info.version,
          kind: info.kind,
        },
      },
    };
    // Only kinds with a real schema are tagged with their group/version/kind: kubectl apply
    // computes patches from tagged schemas, and for built-in kinds falls back to its compiled-in
    // types when none is tagged.
    schemas[schemaName(info)] = info.openAPISchema
      ? {
          ...info.openAPISchema,
          'x-kubernetes-group-version-kind': [
            { group: info.group, version: info.version, kind: info.kind },
          ],
        }
      : {
          type: 'object',
          description: `${info.kind} (${groupVersion(info)})`,
          'x-kubernetes-preserve-unknown-fields': true,
        };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0-kubeedge-ts' },
    paths,
    components: { schemas },
  };
}

/** Serves `/openapi/v3` and `/openapi/v3/<key>`; undefined for other paths. */
export function openApiV3(registry: ResourceRegistry, path: string): unknown {
  const byKey = new Map<string, ResourceInfo[]>();
  for (const info of registry.all()) {
    const key = documentKey(info.group, info.version);
    byKey.set(key, [...(byKey.get(key) ?? []), info]);
  }
  if (path === '/openapi/v3') {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const [key, resources] of [...byKey].sort(([a], [b]) => a.localeCompare(b))) {
      const hash = createHash('sha256')
        .update(JSON.stringify(groupVersionDocument(resources)))
        .digest('hex')
        .slice(0, 32)
        .toUpperCase();
      paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
    }
    return { paths };
  }
  const key = path.replace(/^\/openapi\/v3\//, '');
  const resources = byKey.get(key);
  return resources ? groupVersionDocument(resources) : undefined;
}
