import { BeehiveError, BeehiveErrorCode } from './errors';

/**
 * Resource strings name what a message is about.
 *
 * - cloud form: `node/<nodeID>/<namespace>/<type>[/<name>]` (KubeEdge `BuildResource`)
 * - edge form:  `<namespace>/<type>[/<name>]` (what cloudhub sends after stripping `node/<nodeID>/`)
 *
 * Cluster-scoped objects use the namespace `null`, written as the literal string "null"
 * (e.g. `null/nodestatus/edge-node-1`); parsing returns it as JS `null`. A namespace that is
 * really named "null" is therefore indistinguishable, exactly as in KubeEdge.
 *
 * A name may itself contain `/` (KubeEdge's `BuildResource` appends the resource ID
 * verbatim, and cloudhub keeps every trailing segment when it strips or adds the node
 * prefix). KubeEdge's readers disagree about such names (the edge parser rejects them, the
 * cloud one keeps only the first segment); here `name` is the whole remainder, so
 * `build(parse(s)) === s` always holds and converting never loses a segment.
 */
export interface ResourceParts {
  /** Edge node ID; present in the cloud form only. */
  node?: string;
  /** Namespace, or `null` for cluster-scoped objects. */
  namespace: string | null;
  /** Resource type, e.g. `pod`, `configmap`, `nodestatus` (see `ResourceType`). */
  type: string;
  /** Object name; absent for list-style resources such as `default/podlist`. */
  name?: string;
}

export interface CloudResourceParts extends ResourceParts {
  node: string;
}

const NODE_PREFIX = 'node';
const SEPARATOR = '/';
const CLUSTER_SCOPED = 'null';
const MAX_NODE_NAME_LENGTH = 253;
// Kubernetes node names are DNS-1123 subdomains: lowercase alphanumerics, '-' and '.'.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `node/<node>/<namespace|null>/<type>[/<name>]`. Throws KE_RESOURCE_INVALID. */
export function buildCloudResource(parts: {
  node: string;
  namespace: string | null;
  type: string;
  name?: string;
}): string {
  checkNode(parts.node, 'node');
  return `${NODE_PREFIX}${SEPARATOR}${parts.node}${SEPARATOR}${buildEdgeResource(parts)}`;
}

/** `<namespace|null>/<type>[/<name>]`. Throws KE_RESOURCE_INVALID. */
export function buildEdgeResource(parts: {
  namespace: string | null;
  type: string;
  name?: string;
}): string {
  const namespace = parts.namespace === null ? CLUSTER_SCOPED : parts.namespace;
  checkSegment(namespace, 'namespace', 'a namespace, or null for cluster-scoped objects');
  checkSegment(parts.type, 'type', 'a resource type such as "pod"');
  let resource = `${namespace}${SEPARATOR}${parts.type}`;
  if (parts.name !== undefined && parts.name !== '') {
    checkName(parts.name, `${resource}${SEPARATOR}${parts.name}`);
    resource += `${SEPARATOR}${parts.name}`;
  }
  return resource;
}

/** Splits a cloud-form resource. Throws KE_RESOURCE_INVALID. */
export function parseCloudResource(resource: string): CloudResourceParts {
  const { node, rest } = splitNodePrefix(resource);
  return { node, ...parseEdgeParts(rest, resource) };
}

/** Splits an edge-form resource. Throws KE_RESOURCE_INVALID. */
export function parseEdgeResource(resource: string): ResourceParts {
  requireString(resource);
  return parseEdgeParts(resource, resource);
}

/** `original` is the string the caller passed, so errors quote it rather than a suffix. */
function parseEdgeParts(resource: string, original: string): ResourceParts {
  const segments = resource.split(SEPARATOR);
  const [namespace, type, ...nameSegments] = segments;
  if (namespace === undefined || type === undefined) {
    throw invalidResource(
      original,
      'it needs at least a namespace and a type',
      '<namespace>/<type>[/<name>]',
    );
  }
  checkSegment(
    namespace,
    'namespace',
    'a namespace, or "null" for cluster-scoped objects',
    original,
  );
  checkSegment(type, 'type', 'a resource type such as "pod"', original);
  const parts: ResourceParts = {
    namespace: namespace === CLUSTER_SCOPED ? null : namespace,
    type,
  };
  if (nameSegments.length > 0) {
    const name = nameSegments.join(SEPARATOR);
    checkName(name, original);
    parts.name = name;
  }
  return parts;
}

/**
 * The node ID of a cloud-form resource (`node/<nodeID>/...`). Throws KE_RESOURCE_INVALID.
 * Works for any cloud resource, including ones not shaped `<ns>/<type>/<name>` after the
 * prefix (device twin resources such as `node/n1/membership/detail`).
 */
export function cloudResourceNode(resource: string): string {
  return splitNodePrefix(resource).node;
}

/**
 * What cloudhub does before sending downstream: strips `node/<nodeID>/`. Everything after
 * the prefix is kept as it is. Throws KE_RESOURCE_INVALID.
 */
export function cloudToEdgeResource(resource: string): string {
  return splitNodePrefix(resource).rest;
}

/**
 * {@link cloudResourceNode} and {@link cloudToEdgeResource} from one parse: the node ID and
 * the edge-form resource. Throws KE_RESOURCE_INVALID.
 */
export function splitCloudResource(resource: string): { node: string; edgeResource: string } {
  const { node, rest } = splitNodePrefix(resource);
  return { node, edgeResource: rest };
}

/**
 * What cloudhub does to an upstream message from `node`: prefixes `node/<nodeID>/`.
 * Throws KE_RESOURCE_INVALID.
 */
export function edgeToCloudResource(resource: string, node: string): string {
  requireString(resource);
  checkNode(node, 'node');
  if (resource === '' || resource.split(SEPARATOR).some((segment) => segment === '')) {
    throw invalidResource(resource, 'it has an empty segment', '<namespace>/<type>[/<name>]');
  }
  return `${NODE_PREFIX}${SEPARATOR}${node}${SEPARATOR}${resource}`;
}

function splitNodePrefix(resource: string): { node: string; rest: string } {
  requireString(resource);
  const expected = 'node/<nodeID>/<namespace>/<type>[/<name>]';
  const first = resource.indexOf(SEPARATOR);
  const second = first < 0 ? -1 : resource.indexOf(SEPARATOR, first + 1);
  if (first < 0 || resource.slice(0, first) !== NODE_PREFIX || second < 0) {
    throw invalidResource(resource, 'it does not start with "node/<nodeID>/"', expected);
  }
  const node = resource.slice(first + 1, second);
  checkNode(node, 'node', resource);
  const rest = resource.slice(second + 1);
  if (rest === '' || rest.split(SEPARATOR).some((segment) => segment === '')) {
    throw invalidResource(resource, 'the part after the node ID has an empty segment', expected);
  }
  return { node, rest };
}

function requireString(resource: unknown): asserts resource is string {
  if (typeof resource !== 'string') {
    throw invalidResource(
      String(resource),
      `expected a string, got ${typeof resource}`,
      'a string',
    );
  }
}

function checkNode(node: unknown, what: string, original?: string): void {
  if (
    typeof node !== 'string' ||
    node.length === 0 ||
    node.length > MAX_NODE_NAME_LENGTH ||
    !DNS_SUBDOMAIN.test(node)
  ) {
    throw invalidResource(
      original ?? String(node),
      `${what} ${JSON.stringify(node)} is not a valid node name`,
      'a DNS-1123 subdomain: lowercase letters, digits, "-" and ".", at most 253 characters',
    );
  }
}

function checkSegment(value: unknown, what: string, expected: string, original?: string): void {
  if (typeof value !== 'string' || value === '' || value.includes(SEPARATOR)) {
    throw invalidResource(
      original ?? String(value),
      `${what} ${JSON.stringify(value)} is empty or contains "/"`,
      expected,
    );
  }
}

function checkName(name: unknown, original: string): void {
  if (typeof name !== 'string' || name.split(SEPARATOR).some((segment) => segment === '')) {
    throw invalidResource(
      original,
      `name ${JSON.stringify(name)} has an empty segment`,
      'a name without empty segments (no leading, trailing or double "/")',
    );
  }
}

function invalidResource(resource: string, reason: string, expected: string): BeehiveError {
  return new BeehiveError(
    BeehiveErrorCode.ResourceInvalid,
    `Invalid resource ${JSON.stringify(resource)}: ${reason}. Expected ${expected}.`,
    { reason, expected },
  );
}
