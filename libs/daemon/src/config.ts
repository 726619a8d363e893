import { readFile } from 'node:fs/promises';
import {
  type ObjectOptions,
  type Static,
  type TObject,
  type TProperties,
  type TSchema,
  Type,
} from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { type ConfigIssue, DaemonError } from './errors';

/** A config section: an object whose unknown keys are errors (typos must not pass silently). */
export function section<T extends TProperties>(properties: T, options: ObjectOptions = {}) {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/** The kinds of config value a command-line flag can set. */
export type LeafKind = 'string' | 'number' | 'integer' | 'boolean' | 'string[]' | 'map';

/** One settable field of a config schema: its dotted path is also its flag name. */
export interface ConfigLeaf {
  readonly path: string;
  readonly kind: LeafKind;
  readonly description: string;
  readonly default: unknown;
  /** The first path segment, used to group flags in `--help`. */
  readonly group: string;
}

function leafKind(schema: TSchema, path: string): LeafKind {
  switch (schema.type) {
    case 'string':
    case 'number':
    case 'integer':
    case 'boolean':
      return schema.type;
    case 'array':
      if ((schema.items as TSchema | undefined)?.type === 'string') return 'string[]';
      break;
    case 'object':
      if (schema.patternProperties || typeof schema.additionalProperties === 'object') return 'map';
      break;
  }
  if (Array.isArray(schema.anyOf) && schema.anyOf.every((s: TSchema) => s.const !== undefined)) {
    return 'string';
  }
  throw new Error(`config field ${path}: no flag form for this schema (${JSON.stringify(schema)})`);
}

/** Every leaf of a config schema, depth first, in declaration order. */
export function configLeaves(schema: TObject): ConfigLeaf[] {
  const leaves: ConfigLeaf[] = [];
  const walk = (node: TObject, prefix: string) => {
    for (const [key, child] of Object.entries(node.properties)) {
      const path = prefix ? `${prefix}.${key}` : key;
      const isSection = child.type === 'object' && child.properties !== undefined;
      if (isSection) {
        walk(child as TObject, path);
        continue;
      }
      leaves.push({
        path,
        kind: leafKind(child, path),
        description: child.description ?? '',
        default: child.default,
        group: path.includes('.') ? path.slice(0, path.indexOf('.')) : '',
      });
    }
  };
  walk(schema, '');
  return leaves;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep merge: objects merge key by key, everything else (arrays too) replaces. */
function merge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = merge(base[key], value);
  return out;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

/** `/modules/cloudHub/websocket/port` → `modules.cloudHub.websocket.port`. */
function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? `[${s}]` : s))
    .join('.')
    .replace(/\.\[/g, '[');
}

/** The complete default configuration of a schema. */
export function defaultConfig<T extends TObject>(schema: T): Static<T> {
  return Value.Create(schema) as Static<T>;
}

/** Reads and parses a YAML config file. */
export async function readConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new DaemonError('KE_CONFIG_READ', `cannot read config file ${file}: ${String(cause)}`, {
      cause,
    });
  }
  return parseConfigText(text, file);
}

/** Parses YAML config text; `source` names it in errors. */
export function parseConfigText(text: string, source = 'config'): unknown {
  try {
    const value = parseYaml(text) as unknown;
    if (value === null || value === undefined) return {};
    if (!isPlainObject(value)) {
      throw new DaemonError('KE_CONFIG_INVALID', `${source}: the top level must be a mapping`, {
        issues: [{ path: '', message: 'expected a mapping' }],
      });
    }
    return value;
  } catch (cause) {
    if (cause instanceof DaemonError) throw cause;
    throw new DaemonError('KE_CONFIG_YAML', `${source}: invalid YAML: ${String(cause)}`, {
      cause,
    });
  }
}

/**
 * Builds the effective configuration: defaults, then the file, then flag overrides (keyed by
 * dotted path). Values are coerced to the schema's types where that is lossless; anything
 * that still does not fit is reported with its path.
 */
export function resolveConfig<T extends TObject>(
  schema: T,
  layers: { file?: unknown; overrides?: Readonly<Record<string, unknown>> } = {},
): Static<T> {
  const merged = merge(defaultConfig(schema), layers.file ?? {}) as Record<string, unknown>;
  // A flag sets its whole field: `--labels a=1` replaces the file's labels, it does not add.
  for (const [path, value] of Object.entries(layers.overrides ?? {})) {
    if (value !== undefined) setPath(merged, path, value);
  }
  const converted = Value.Convert(schema, merged);
  const issues: ConfigIssue[] = [...Value.Errors(schema, converted)].map((e) => ({
    path: pointerToPath(e.path),
    message: e.message,
  }));
  if (issues.length > 0) {
    const list = issues.map((i) => `  ${i.path || '(top level)'}: ${i.message}`).join('\n');
    throw new DaemonError('KE_CONFIG_INVALID', `invalid configuration:\n${list}`, { issues });
  }
  return converted as Static<T>;
}

/** The configuration as YAML, as `--defaultconfig` prints it. */
export function renderConfig(config: unknown): string {
  return stringifyYaml(config, { lineWidth: 0 });
}
