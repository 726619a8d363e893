/**
 * A container's environment, computed the way the kubelet does it
 * (`pkg/kubelet/kubelet_pods.go` `makeEnvironmentVariables`): `envFrom` sources first, then
 * `env` entries in order, each `value` expanded against the variables before it. Service link
 * variables (`<SVC>_SERVICE_HOST`, ...) are not generated: edge nodes have no service list.
 */
import type { V1ConfigMap, V1Container, V1Pod, V1Secret } from '@kubernetes/client-node';

export type PodSetupErrorCode =
  /** A ConfigMap, Secret or key the pod names does not exist and is not `optional`. */
  | 'KE_EDGED_CONFIG_MISSING'
  /** The pod asks for something this node cannot compute (an unknown fieldPath or resource). */
  | 'KE_EDGED_CONFIG_INVALID'
  /** A volume could not be prepared: a hostPath type check, a subPath escape, a write. */
  | 'KE_EDGED_VOLUME_FAILED'
  /** The pod uses a volume type edged does not implement (persistentVolumeClaim, nfs, ...). */
  | 'KE_EDGED_VOLUME_UNSUPPORTED';

/**
 * Why a pod's containers cannot be configured. The kubelet reports these as the container's
 * `CreateContainerConfigError` (env) or as a `FailedMount` event (volumes).
 */
export class PodSetupError extends Error {
  override readonly name: string = 'PodSetupError';
  readonly code: PodSetupErrorCode;

  constructor(code: PodSetupErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** Reads the ConfigMaps and Secrets a pod refers to, from the edge's local store. */
export interface ConfigLookup {
  /** The ConfigMap, or `undefined` when it does not exist. */
  configMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
  /** The Secret (its `data` base64 as stored by the API), or `undefined` when it does not exist. */
  secret(namespace: string, name: string): Promise<V1Secret | undefined>;
}

/** What the kubelet knows about the running pod that is not in its spec. */
export interface PodRuntimeInfo {
  /** The sandbox's IP (`status.podIP`); for hostNetwork pods, the node's IP. */
  podIP?: string;
  /** Every sandbox IP (`status.podIPs`); defaults to `[podIP]`. */
  podIPs?: string[];
  /** The node's IP (`status.hostIP`). */
  hostIP?: string;
  /** Every node IP (`status.hostIPs`); defaults to `[hostIP]`. */
  hostIPs?: string[];
  /**
   * The node's allocatable cpu and memory (quantities), used as the limit in a
   * `resourceFieldRef` to `limits.*` when the container sets none, as the kubelet does.
   */
  nodeAllocatable?: { cpu?: string; memory?: string };
  /** Told about `envFrom` keys skipped as invalid variable names (the kubelet makes an event). */
  onWarning?: (message: string) => void;
}

export interface EnvVar {
  name: string;
  value: string;
}

// The classic C_IDENTIFIER-like rule of `validation.IsEnvVarName`.
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/**
 * The container's environment in kubelet order: `envFrom` keys (ConfigMap `data`, Secret `data`
 * decoded, with `prefix`; invalid names skipped), then `env` entries; a later name replaces the
 * value of an earlier one in its first position. Throws {@link PodSetupError}
 * `KE_EDGED_CONFIG_MISSING` when a non-optional source or key is missing.
 */
export async function containerEnv(
  pod: V1Pod,
  container: V1Container,
  lookup: ConfigLookup,
  runtime: PodRuntimeInfo = {},
): Promise<EnvVar[]> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const env = new Map<string, string>();
  const configMaps = new Map<string, V1ConfigMap | undefined>();
  const secrets = new Map<string, V1Secret | undefined>();
  const getConfigMap = async (name: string) => {
    if (!configMaps.has(name)) configMaps.set(name, await lookup.configMap(namespace, name));
    return configMaps.get(name);
  };
  const getSecret = async (name: string) => {
    if (!secrets.has(name)) secrets.set(name, await lookup.secret(namespace, name));
    return secrets.get(name);
  };

  for (const source of container.envFrom ?? []) {
    let data: Record<string, string>;
    let what: string;
    if (source.configMapRef) {
      const name = source.configMapRef.name ?? '';
      what = `configMap ${namespace}/${name}`;
      const configMap = await getConfigMap(name);
      if (!configMap) {
        if (source.configMapRef.optional) continue;
        throw missing(`configmap "${name}" not found in namespace ${namespace}`);
      }
      data = configMap.data ?? {};
    } else if (source.secretRef) {
      const name = source.secretRef.name ?? '';
      what = `secret ${namespace}/${name}`;
      const secret = await getSecret(name);
      if (!secret) {
        if (source.secretRef.optional) continue;
        throw missing(`secret "${name}" not found in namespace ${namespace}`);
      }
      data = secretData(secret);
    } else {
      continue;
    }
    const invalid: string[] = [];
    for (const [key, value] of Object.entries(data)) {
      const name = `${source.prefix ?? ''}${key}`;
      if (!ENV_VAR_NAME.test(name)) {
        invalid.push(name);
        continue;
      }
      env.set(name, value);
    }
    if (invalid.length > 0) {
      runtime.onWarning?.(
        `Keys [${invalid.sort().join(', ')}] from the EnvFrom ${what} were skipped since they are considered invalid environment variable names.`,
      );
    }
  }

  for (const entry of container.env ?? []) {
    const valueFrom = entry.valueFrom;
    if (entry.value || !valueFrom) {
      env.set(entry.name, entry.value ? expand(entry.value, env) : '');
      continue;
    }
    if (valueFrom.fieldRef) {
      env.set(entry.name, podFieldValue(pod, valueFrom.fieldRef.fieldPath, runtime));
    } else if (valueFrom.resourceFieldRef) {
      const ref = valueFrom.resourceFieldRef;
      env.set(entry.name, containerResourceValue(container, ref, runtime.nodeAllocatable));
    } else if (valueFrom.configMapKeyRef) {
      const { name = '', key, optional } = valueFrom.configMapKeyRef;
      const configMap = await getConfigMap(name);
      if (!configMap) {
        if (optional) continue;
        throw missing(`configmap "${name}" not found in namespace ${namespace}`);
      }
      const value = configMap.data?.[key];
      if (value === undefined) {
        if (optional) continue;
        throw missing(`couldn't find key ${key} in ConfigMap ${namespace}/${name}`);
      }
      env.set(entry.name, value);
    } else if (valueFrom.secretKeyRef) {
      const { name = '', key, optional } = valueFrom.secretKeyRef;
      const secret = await getSecret(name);
      if (!secret) {
        if (optional) continue;
        throw missing(`secret "${name}" not found in namespace ${namespace}`);
      }
      const value = secretData(secret)[key];
      if (value === undefined) {
        if (optional) continue;
        throw missing(`couldn't find key ${key} in Secret ${namespace}/${name}`);
      }
      env.set(entry.name, value);
    } else {
      env.set(entry.name, '');
    }
  }
  return [...env].map(([name, value]) => ({ name, value }));
}

/** `$(VAR)` expansion of a container's `command` or `args` against its environment. */
export function expandCommand(
  args: readonly string[] | undefined,
  env: readonly EnvVar[],
): string[] {
  const vars = new Map(env.map(({ name, value }) => [name, value]));
  return (args ?? []).map((arg) => expand(arg, vars));
}

/**
 * Kubernetes' `third_party/forked/golang/expansion.Expand`: `$(NAME)` becomes the variable's
 * value, `$$` becomes `$` (so `$$(NAME)` stays literal), and a reference to an unknown
 * variable or an unclosed `$(` is left as written.
 */
export function expand(input: string, vars: ReadonlyMap<string, string>): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const next = input[cursor + 1];
    let advance = 1;
    if (next === '$') {
      out += '$';
    } else if (next === '(') {
      const close = input.indexOf(')', cursor + 2);
      if (close === -1) {
        out += '$(';
      } else {
        const name = input.slice(cursor + 2, close);
        out += vars.get(name) ?? `$(${name})`;
        advance = close - cursor;
      }
    } else {
      out += `$${next}`;
    }
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/** A Secret's keys decoded from base64; `stringData` (never stored, but accepted) wins. */
export function secretData(secret: V1Secret): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) {
    data[key] = Buffer.from(value, 'base64').toString('utf8');
  }
  return { ...data, ...(secret.stringData ?? {}) };
}

/** The bytes of a Secret's keys; `stringData` (never stored, but accepted) wins. */
export function secretBytes(secret: V1Secret): Map<string, Buffer> {
  const data = new Map<string, Buffer>();
  for (const [key, value] of Object.entries(secret.data ?? {})) {
    data.set(key, Buffer.from(value, 'base64'));
  }
  for (const [key, value] of Object.entries(secret.stringData ?? {})) {
    data.set(key, Buffer.from(value, 'utf8'));
  }
  return data;
}

/**
 * A `fieldRef` for env: the `metadata.*` paths of {@link podMetadataField} plus spec.nodeName,
 * spec.serviceAccountName, status.podIP(s) and status.hostIP(s) (comma-joined lists).
 */
export function podFieldValue(pod: V1Pod, fieldPath: string, runtime: PodRuntimeInfo = {}): string {
  switch (fieldPath) {
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP':
      return runtime.podIP ?? runtime.podIPs?.[0] ?? '';
    case 'status.podIPs':
      return (runtime.podIPs ?? (runtime.podIP ? [runtime.podIP] : [])).join(',');
    case 'status.hostIP':
      return runtime.hostIP ?? runtime.hostIPs?.[0] ?? '';
    case 'status.hostIPs':
      return (runtime.hostIPs ?? (runtime.hostIP ? [runtime.hostIP] : [])).join(',');
    default:
      return podMetadataField(pod, fieldPath);
  }
}

/**
 * `fieldpath.ExtractFieldPathAsString` for the fields a downward API volume may use:
 * metadata.name, metadata.namespace, metadata.uid, metadata.labels / metadata.annotations
 * (every entry as sorted `key="value"` lines) and metadata.labels['k'] /
 * metadata.annotations['k'] (empty when absent). Anything else is `KE_EDGED_CONFIG_INVALID`.
 */
export function podMetadataField(pod: V1Pod, fieldPath: string): string {
  const metadata = pod.metadata ?? {};
  const subscripted = /^(metadata\.labels|metadata\.annotations)\['(.+)'\]$/.exec(fieldPath);
  if (subscripted) {
    const map = subscripted[1] === 'metadata.labels' ? metadata.labels : metadata.annotations;
    return map?.[subscripted[2]!] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.name':
      return metadata.name ?? '';
    case 'metadata.namespace':
      return metadata.namespace ?? '';
    case 'metadata.uid':
      return metadata.uid ?? '';
    case 'metadata.labels':
      return formatMap(metadata.labels);
    case 'metadata.annotations':
      return formatMap(metadata.annotations);
    default:
      throw new PodSetupError(
        'KE_EDGED_CONFIG_INVALID',
        `unsupported fieldPath: ${fieldPath}; edged supports metadata.name, metadata.namespace, metadata.uid, metadata.labels, metadata.annotations, spec.nodeName, spec.serviceAccountName, status.podIP(s) and status.hostIP(s)`,
      );
  }
}

// `fieldpath.FormatMap`: `key="value"` lines sorted by key; JSON quoting stands in for Go's %q.
function formatMap(map: Record<string, string> | undefined): string {
  return Object.keys(map ?? {})
    .sort()
    .map((key) => `${key}=${JSON.stringify(map?.[key])}`)
    .join('\n');
}

/**
 * A `resourceFieldRef` (`limits.cpu`, `limits.memory`, `requests.cpu`, `requests.memory`,
 * and the ephemeral-storage pair), divided by `divisor` (default 1) and rounded up as the
 * kubelet does: cpu through millicores, memory through bytes. An unset limit is the node's
 * allocatable when given, otherwise 0.
 */
export function containerResourceValue(
  container: V1Container,
  ref: { resource: string; divisor?: string | number },
  nodeAllocatable: { cpu?: string; memory?: string } = {},
): string {
  const [kind, resource] = ref.resource.split('.', 2) as [string, string | undefined];
  const known = ['cpu', 'memory', 'ephemeral-storage'];
  if ((kind !== 'limits' && kind !== 'requests') || !resource || !known.includes(resource)) {
    throw new PodSetupError(
      'KE_EDGED_CONFIG_INVALID',
      `unsupported container resource: ${ref.resource}; edged supports limits.* and requests.* of cpu, memory and ephemeral-storage`,
    );
  }
  const set = kind === 'limits' ? container.resources?.limits : container.resources?.requests;
  let quantity = set?.[resource];
  if (quantity === undefined && kind === 'limits') {
    quantity = (nodeAllocatable as Record<string, string | undefined>)[resource];
  }
  const divisorText = ref.divisor === undefined ? '' : String(ref.divisor);
  const divisor =
    divisorText === '' || isZero(divisorText) ? parseQuantity('1') : parseQuantity(divisorText);
  const value = parseQuantity(quantity ?? '0');
  if (resource === 'cpu') {
    return String(Math.ceil(Number(scaledCeil(value, 1000n)) / Number(scaledCeil(divisor, 1000n))));
  }
  return String(Math.ceil(Number(scaledCeil(value, 1n)) / Number(scaledCeil(divisor, 1n))));
}

/** An exact Kubernetes quantity as a fraction `numerator / denominator`. */
interface Fraction {
  numerator: bigint;
  denominator: bigint;
}

const BINARY_SUFFIXES: Record<string, bigint> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};
const DECIMAL_EXPONENTS: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

function isZero(text: string): boolean {
  return parseQuantity(text).numerator === 0n;
}

/** Parses `resource.Quantity` text (`250m`, `1.5Gi`, `1e3`, `128974848`) exactly. */
export function parseQuantity(text: string): Fraction {
  const match =
    /^([+-]?)(\d*)(?:\.(\d*))?(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(
      text.trim(),
    );
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) {
    throw new PodSetupError('KE_EDGED_CONFIG_INVALID', `invalid quantity: ${JSON.stringify(text)}`);
  }
  const [, sign, whole = '', fraction = '', exponentText, suffix = ''] = match;
  let numerator = BigInt(`${whole}${fraction}` || '0');
  let denominator = 10n ** BigInt(fraction.length);
  let exponent = exponentText ? Number(exponentText.slice(1)) : (DECIMAL_EXPONENTS[suffix] ?? 0);
  const binary = BINARY_SUFFIXES[suffix];
  if (binary) {
    numerator *= binary;
    exponent = 0;
  }
  if (exponent >= 0) numerator *= 10n ** BigInt(exponent);
  else denominator *= 10n ** BigInt(-exponent);
  if (sign === '-') numerator = -numerator;
  return { numerator, denominator };
}

// `Quantity.ScaledValue` rounded up: the value in units of 1/scale.
function scaledCeil(quantity: Fraction, scale: bigint): bigint {
  const scaled = quantity.numerator * scale;
  const quotient = scaled / quantity.denominator;
  return scaled % quantity.denominator > 0n ? quotient + 1n : quotient;
}

function missing(message: string): PodSetupError {
  return new PodSetupError(
    'KE_EDGED_CONFIG_MISSING',
    `${message}; create it or mark the reference optional (the kubelet reports CreateContainerConfigError)`,
  );
}
