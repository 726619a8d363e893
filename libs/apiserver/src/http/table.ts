import type { PrinterColumn, ResourceInfo } from '../registry';
import type { KubeObject } from '../store/types';

/** How a client asked for a `meta.k8s.io/v1` Table (kubectl get does). */
export interface TableRequest {
  readonly includeObject: 'None' | 'Metadata' | 'Object';
}

/**
 * Reads `Accept: application/json;as=Table;v=v1;g=meta.k8s.io, application/json` and the
 * `includeObject` query parameter.
 */
export function wantsTable(accept: string | undefined, url?: URL): TableRequest | undefined {
  if (!accept) return undefined;
  for (const part of accept.split(',')) {
    const params = part.split(';').map((p) => p.trim());
    if (params.includes('as=Table') && params.includes('g=meta.k8s.io')) {
      const include = url?.searchParams.get('includeObject');
      return {
        includeObject: include === 'None' || include === 'Object' ? include : 'Metadata',
      };
    }
  }
  return undefined;
}

type Cell = string | number | boolean | null;

interface Column {
  readonly definition: {
    name: string;
    type: string;
    format: string;
    description: string;
    priority: number;
  };
  readonly cell: (object: KubeObject) => Cell;
}

/** Kubernetes' `duration.HumanDuration`: 45s, 3m20s, 12m, 5h3m, 2d4h, 400d, 3y10d. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (days < 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 730) return `${days}d`;
  const years = Math.floor(days / 365);
  if (years < 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

function since(value: unknown): string {
  if (!value) return '<unknown>';
  const time = Date.parse(String(value));
  return Number.isNaN(time) ? '<unknown>' : humanDuration(Date.now() - time);
}

function age(object: KubeObject): string {
  return since(object.metadata.creationTimestamp);
}

/** Reads `.status.conditions[?(@.type=="Ready")]`-style simple JSONPath used by printer columns. */
function jsonPath(object: unknown, path: string): Cell {
  const match = /^\.?(.*)$/.exec(path.trim());
  let node: unknown = object;
  for (const raw of (match?.[1] ?? '').split('.').filter(Boolean)) {
    const filter = /^([^[]+)\[\?\(@\.(\w+)==["']([^"']*)["']\)\]$/.exec(raw);
    const index = /^([^[]+)\[(\d+)\]$/.exec(raw);
    if (filter) {
      const list = (node as Record<string, unknown> | undefined)?.[filter[1]!];
      node = Array.isArray(list)
        ? list.find((item) => String((item as Record<string, unknown>)[filter[2]!]) === filter[3])
        : undefined;
    } else if (index) {
      const list = (node as Record<string, unknown> | undefined)?.[index[1]!];
      node = Array.isArray(list) ? list[Number(index[2])] : undefined;
    } else {
      node = (node as Record<string, unknown> | undefined)?.[raw];
    }
    if (node === undefined || node === null) return null;
  }
  if (typeof node === 'object') return JSON.stringify(node);
  return node as Cell;
}

const column = (
  name: string,
  cell: (object: KubeObject) => Cell,
  options: { type?: string; format?: string; priority?: number; description?: string } = {},
): Column => ({
  definition: {
    name,
    type: options.type ?? 'string',
    format: options.format ?? '',
    description: options.description ?? '',
    priority: options.priority ?? 0,
  },
  cell,
});

const nameColumn = column('Name', (o) => o.metadata.name, {
  format: 'name',
  description: 'Name must be unique within a namespace.',
});
const ageColumn = column('Age', age, {
  type: 'date',
  description:
    'CreationTimestamp is a timestamp representing the server time when this object was created.',
});

/** A field of an object by simple path, e.g. `status.phase`. */
function at(object: unknown, path: string): unknown {
  let node = object;
  for (const key of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function list(object: unknown, path: string): Record<string, unknown>[] {
  const value = at(object, path);
  return Array.isArray(value) ? (value as Record<string, unknown>[]) : [];
}

const text = (value: unknown, fallback: string): string =>
  value === undefined || value === null ? fallback : String(value);

function podColumns(): Column[] {
  const statuses = (o: KubeObject) => list(o, 'status.containerStatuses');
  return [
    nameColumn,
    column('Ready', (o) => {
      const ready = statuses(o).filter((s) => s.ready === true).length;
      return `${ready}/${list(o, 'spec.containers').length}`;
    }),
    column('Status', (o) =>
      o.metadata.deletionTimestamp ? 'Terminating' : text(at(o, 'status.phase'), 'Pending'),
    ),
    column('Restarts', (o) => statuses(o).reduce((n, s) => n + Number(s.restartCount ?? 0), 0), {
      type: 'integer',
    }),
    ageColumn,
    column('IP', (o) => text(at(o, 'status.podIP'), '<none>'), { priority: 1 }),
    column('Node', (o) => text(at(o, 'spec.nodeName'), '<none>'), { priority: 1 }),
  ];
}

const count = (value: unknown): number =>
  typeof value === 'object' && value !== null ? Object.keys(value).length : 0;

/** kubectl's way of listing many values in a cell: three, then how many more. */
const firstThree = (values: readonly string[]): string =>
  values.length === 0
    ? '<unset>'
    : values.slice(0, 3).join(',') + (values.length > 3 ? ` + ${values.length - 3} more...` : '');

const BUILTIN_COLUMNS: Record<string, () => Column[]> = {
  'core/pods': podColumns,
  'core/nodes': () => [
    nameColumn,
    column('Status', (o) => {
      const ready = list(o, 'status.conditions').find((c) => c.type === 'Ready');
      return ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown';
    }),
    column('Roles', (o) => {
      const roles = Object.keys(o.metadata.labels ?? {})
        .filter((l) => l.startsWith('node-role.kubernetes.io/'))
        .map((l) => l.slice('node-role.kubernetes.io/'.length));
      return roles.length ? roles.join(',') : '<none>';
    }),
    ageColumn,
    column('Version', (o) => text(at(o, 'status.nodeInfo.kubeletVersion'), '')),
  ],
  'core/namespaces': () => [
    nameColumn,
    column('Status', (o) => text(at(o, 'status.phase'), 'Active')),
    ageColumn,
  ],
  'core/configmaps': () => [
    nameColumn,
    column('Data', (o) => count(o.data) + count(o.binaryData), { type: 'integer' }),
    ageColumn,
  ],
  'core/secrets': () => [
    nameColumn,
    column('Type', (o) => text(o.type, 'Opaque')),
    column('Data', (o) => count(o.data), { type: 'integer' }),
    ageColumn,
  ],
  'core/services': () => [
    nameColumn,
    column('Type', (o) => text(at(o, 'spec.type'), 'ClusterIP')),
    column('Cluster-IP', (o) => text(at(o, 'spec.clusterIP'), '<none>')),
    column('External-IP', () => '<none>'),
    column(
      'Port(s)',
      (o) =>
        list(o, 'spec.ports')
          .map((p) => `${text(p.port, '')}/${text(p.protocol, 'TCP')}`)
          .join(',') || '<none>',
    ),
    ageColumn,
  ],
  'discovery.k8s.io/endpointslices': () => [
    nameColumn,
    column('AddressType', (o) => text(o.addressType, '')),
    column('Ports', (o) =>
      firstThree(
        list(o, 'ports').map((p) => (p.port === undefined ? '<unset>' : text(p.port, ''))),
      ),
    ),
    column('Endpoints', (o) =>
      firstThree(list(o, 'endpoints').flatMap((e) => (e.addresses as string[] | undefined) ?? [])),
    ),
    ageColumn,
  ],
  'apps/deployments': () => [
    nameColumn,
    column(
      'Ready',
      (o) => `${text(at(o, 'status.readyReplicas'), '0')}/${text(at(o, 'spec.replicas'), '1')}`,
    ),
    column('Up-to-date', (o) => Number(at(o, 'status.updatedReplicas') ?? 0), { type: 'integer' }),
    column('Available', (o) => Number(at(o, 'status.availableReplicas') ?? 0), { type: 'integer' }),
    ageColumn,
  ],
  'apiextensions.k8s.io/customresourcedefinitions': () => [
    nameColumn,
    column('Created At', (o) => text(o.metadata.creationTimestamp, ''), { type: 'date' }),
  ],
};

function columnsOf(info: ResourceInfo): Column[] {
  const builtin = BUILTIN_COLUMNS[info.storageResource];
  if (builtin) return builtin();
  const printer: readonly PrinterColumn[] = info.printerColumns ?? [];
  if (printer.length === 0) return [nameColumn, ageColumn];
  const custom = printer.map((p) =>
    column(
      p.name,
      (o) => (p.type === 'date' ? since(jsonPath(o, p.jsonPath)) : jsonPath(o, p.jsonPath)),
      {
        type: p.type,
        format: p.format ?? '',
        priority: p.priority ?? 0,
        description: p.description ?? '',
      },
    ),
  );
  return [
    nameColumn,
    ...custom,
    ...(printer.some((p) => p.jsonPath === '.metadata.creationTimestamp') ? [] : [ageColumn]),
  ];
}

/** A `meta.k8s.io/v1` Table of `objects`, as the API server answers `kubectl get`. */
export function tableFor(
  info: ResourceInfo,
  objects: readonly KubeObject[],
  resourceVersion: string,
  request: TableRequest,
  metadata: Record<string, unknown> = { resourceVersion },
) {
  const columns = columnsOf(info);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: columns.map((c) => c.definition),
    rows: objects.map((object) => ({
      cells: columns.map((c) => c.cell(object)),
      ...(request.includeObject === 'None'
        ? {}
        : {
            object:
              request.includeObject === 'Object'
                ? object
                : {
                    kind: 'PartialObjectMetadata',
                    apiVersion: 'meta.k8s.io/v1',
                    metadata: object.metadata,
                  },
          }),
    })),
  };
}
