import type { TSchema } from '@sinclair/typebox';

/** A column `kubectl get` shows for a resource (a CRD's `additionalPrinterColumns` entry). */
export interface PrinterColumn {
  /** Column header, e.g. `TOTAL`. */
  readonly name: string;
  /** OpenAPI type of the value; `date` renders as an age. */
  readonly type: 'integer' | 'number' | 'string' | 'boolean' | 'date';
  /** JSONPath into the object, e.g. `.status.desired`. */
  readonly jsonPath: string;
  /** Shown by `kubectl explain` and API discovery. */
  readonly description?: string;
  /** 0 = shown by default; higher = only with `-o wide`. */
  readonly priority?: number;
}

/** Everything this package knows about one kind: its names, scope, schema and CRD details. */
export interface ResourceDefinition<S extends TSchema = TSchema> {
  /** API group, e.g. `devices.kubeedge.io`. */
  readonly group: string;
  /** API version within the group, e.g. `v1beta1`. */
  readonly version: string;
  /** `group/version`, as objects carry it. */
  readonly apiVersion: string;
  /** Kind, e.g. `Device`. */
  readonly kind: string;
  /** Kind of the list, e.g. `DeviceList`. */
  readonly listKind: string;
  /** Resource name used in URLs, e.g. `devices`. */
  readonly plural: string;
  /** Lower-case singular name, e.g. `device`. */
  readonly singular: string;
  /** Short names `kubectl` accepts, e.g. `ng` for NodeGroup. */
  readonly shortNames: readonly string[];
  /** Whether objects live in a namespace. */
  readonly scope: 'Namespaced' | 'Cluster';
  /** One line on what the kind is, from the upstream doc comment. */
  readonly description: string;
  /** TypeBox schema of a whole object; the source of both the TS type and the CRD. */
  readonly schema: S;
  /** Whether `status` is a subresource (then writes to the main resource ignore `status`). */
  readonly subresources: { readonly status: boolean };
  /** Extra `kubectl get` columns. */
  readonly printerColumns: readonly PrinterColumn[];
  /** File the CRD is written to under `crds/`, named as upstream names it. */
  readonly crdFileName: string;
}

type ResourceInput<S extends TSchema> = Omit<ResourceDefinition<S>, 'apiVersion' | 'listKind'> & {
  readonly listKind?: string;
};

/** Fills in the derived names and freezes the definition. */
export function defineResource<S extends TSchema>(input: ResourceInput<S>): ResourceDefinition<S> {
  return Object.freeze({
    ...input,
    apiVersion: `${input.group}/${input.version}`,
    listKind: input.listKind ?? `${input.kind}List`,
    shortNames: Object.freeze([...input.shortNames]),
    subresources: Object.freeze({ ...input.subresources }),
    printerColumns: Object.freeze(
      input.printerColumns.map((column) => Object.freeze({ ...column })),
    ),
  });
}
