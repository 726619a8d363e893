import { badRequest } from '../errors';

/** What a resource request asks for, parsed from the method and URL as Kubernetes does. */
export interface ResourceRequest {
  readonly kind: 'resource';
  readonly verb:
    | 'get'
    | 'list'
    | 'watch'
    | 'create'
    | 'update'
    | 'patch'
    | 'delete'
    | 'deletecollection';
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  /** `''` when the URL names no namespace. */
  readonly namespace: string;
  readonly name: string;
  readonly subresource: string;
}

/** A request outside the resource tree: discovery, OpenAPI, health. */
export interface NonResourceRequest {
  readonly kind: 'nonresource';
  readonly path: string;
}

export type RequestInfo = ResourceRequest | NonResourceRequest;

const NAME = /^[^/]+$/;
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

function verbOf(
  method: string,
  hasName: boolean,
  watch: boolean,
): ResourceRequest['verb'] | undefined {
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (watch) return 'watch';
      return hasName ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return hasName ? 'delete' : 'deletecollection';
    default:
      return undefined;
  }
}

/**
 * Parses `/api/v1/namespaces/default/pods/web/status` and friends. The legacy `/watch/` path
 * segment and the `watch=true` query both make a watch.
 */
export function parseRequestInfo(method: string, url: URL): RequestInfo {
  const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let rest: string[];
  let group: string;
  let version: string;
  if (segments[0] === 'api' && segments.length >= 3) {
    group = '';
    version = segments[1]!;
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    group = segments[1]!;
    version = segments[2]!;
    rest = segments.slice(3);
  } else {
    return { kind: 'nonresource', path: url.pathname };
  }

  let watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
  if (rest[0] === 'watch') {
    watch = true;
    rest = rest.slice(1);
  }

  let namespace = '';
  // `namespaces/{ns}/{resource}...` scopes a request; `namespaces/{name}[/status|/finalize]`
  // is the namespace object itself (cluster-scoped).
  if (rest[0] === 'namespaces' && rest.length >= 3 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  const [resource, name = '', subresource = '', ...extra] = rest;
  if (
    !resource ||
    extra.length > 0 ||
    [resource, name, subresource].some((s) => s && !NAME.test(s))
  ) {
    throw badRequest(`the server could not find the requested resource path ${url.pathname}`);
  }
  const verb = verbOf(method, name !== '', watch);
  if (!verb) throw badRequest(`method ${method} is not supported`);
  return { kind: 'resource', verb, group, version, resource, namespace, name, subresource };
}
