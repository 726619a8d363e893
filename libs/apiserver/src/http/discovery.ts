import { groupVersion, type ResourceInfo, type ResourceRegistry } from '../registry';

/** The Kubernetes version this server reports and follows. */
export const SERVER_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-kubeedge-ts',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-11-29T00:00:00Z',
  goVersion: 'n/a (Node.js)',
  compiler: 'tsc',
  platform: `${process.platform}/${process.arch}`,
};

/** Sorts versions as Kubernetes prefers them: v2 > v1 > v1beta2 > v1beta1 > v1alpha1. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0, v] as const;
    const stage = m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1;
    return [Number(m[1]), stage, Number(m[3] ?? 0), v] as const;
  };
  const [am, as, an] = parse(a);
  const [bm, bs, bn] = parse(b);
  if (am !== bm) return bm - am;
  if (as !== bs) return bs - as;
  if (an !== bn) return bn - an;
  return a.localeCompare(b);
}

function apiResource(info: ResourceInfo) {
  return {
    name: info.resource,
    singularName: info.singular,
    namespaced: info.namespaced,
    kind: info.kind,
    verbs: [...info.verbs],
    ...(info.shortNames.length ? { shortNames: [...info.shortNames] } : {}),
    ...(info.categories.length ? { categories: [...info.categories] } : {}),
  };
}

/** `GET /api/v1` or `/apis/<group>/<version>`. */
export function resourceList(registry: ResourceRegistry, group: string, version: string) {
  const resources = registry.all().filter((r) => r.group === group && r.version === version);
  if (resources.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: resources
      .sort((a, b) => a.resource.localeCompare(b.resource))
      .flatMap((info) => [
        apiResource(info),
        ...(info.statusSubresource
          ? [
              {
                name: `${info.resource}/status`,
                singularName: '',
                namespaced: info.namespaced,
                kind: info.kind,
                verbs: ['get', 'patch', 'update'],
              },
            ]
          : []),
      ]),
  };
}

/** `GET /api`. */
export function apiVersions(serverAddress: string) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function apiGroup(name: string, versions: string[]) {
  const sorted = [...versions].sort(compareVersions);
  const entries = sorted.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: entries, preferredVersion: entries[0] };
}

/** `GET /apis`. */
export function apiGroupList(registry: ResourceRegistry) {
  const groups = [...registry.groups()]
    .filter(([name]) => name !== '')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, versions]) => apiGroup(name, [...versions.keys()]));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

/** `GET /apis/<group>`. */
export function apiGroupDocument(registry: ResourceRegistry, name: string) {
  const versions = registry.groups().get(name);
  if (!name || !versions) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(name, [...versions.keys()]) };
}

export { groupVersion };
