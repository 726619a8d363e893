import type { MethodDefinition, PackageDefinition } from '@grpc/proto-loader';
import { fromJSON } from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { DMI_API_PROTO, WELL_KNOWN_TYPES_PROTO } from './api-proto';

/** The two DMI services: edgecore serves the first, a mapper the second. */
export type DmiService = 'DeviceManagerService' | 'DeviceMapperService';

let root: protobuf.Root | undefined;
let packageDefinition: PackageDefinition | undefined;

/** DMI and the well-known types it uses, parsed once from their text (no file on disk). */
export function dmiRoot(): protobuf.Root {
  if (!root) {
    const next = new protobuf.Root();
    // Two texts, one root: a .proto file has one package, and DMI imports google.protobuf.Any.
    protobuf.parse(WELL_KNOWN_TYPES_PROTO, next, { keepCase: false });
    protobuf.parse(DMI_API_PROTO, next, { keepCase: false });
    next.resolveAll();
    root = next;
  }
  return root;
}

/**
 * The DMI v1beta1 services as `@grpc/proto-loader` defines them: fields camelCased, int64 as
 * decimal strings, enums as names, unset fields filled with their defaults.
 */
export function dmiPackageDefinition(): PackageDefinition {
  if (!packageDefinition) {
    packageDefinition = fromJSON(dmiRoot().toJSON(), {
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
  }
  return packageDefinition;
}

export function serviceDefinition(
  service: DmiService,
): Record<string, MethodDefinition<object, object>> {
  return dmiPackageDefinition()[`v1beta1.${service}`] as Record<
    string,
    MethodDefinition<object, object>
  >;
}

export function methodDefinition(
  service: DmiService,
  method: string,
): MethodDefinition<object, object> {
  const found = serviceDefinition(service)[method];
  if (!found) throw new Error(`v1beta1.${service} has no method ${method}`);
  return found;
}
