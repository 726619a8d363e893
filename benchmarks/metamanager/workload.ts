/**
 * Objects and small statistics shared by the store child (`store.ts`), the propagation phase
 * (`propagation.ts`) and the runner (`run.ts`).
 */

export interface BenchObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec?: unknown;
  data?: Record<string, string>;
}

/** Text of `length` characters, different for each seed. */
function filler(seed: string, length: number): string {
  let text = '';
  while (text.length < length) text += `${seed}-${text.length.toString(36)}.`;
  return text.slice(0, length);
}

/** Pads `build(padding)` so that its JSON is about `bytes` long (±10). */
function sized(bytes: number, build: (padding: string) => BenchObject): BenchObject {
  const bare = JSON.stringify(build('')).length;
  return build(filler('x', Math.max(0, bytes - bare)));
}

/** A pod of about 1 KB of JSON, bound to `nodeName` when given. */
export function pod(namespace: string, name: string, version = 0, nodeName?: string): BenchObject {
  return sized(1024, (padding) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: 'bench', version: String(version) } },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      restartPolicy: 'Always',
      containers: [
        {
          name: 'app',
          image: 'registry.example/bench/app:1.0',
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          env: [
            { name: 'VERSION', value: String(version) },
            { name: 'PADDING', value: padding },
          ],
          resources: { requests: { cpu: '10m', memory: '16Mi' } },
        },
      ],
    },
  }));
}

/** A config map of about 1 KB of JSON. */
export function configMap(namespace: string, name: string, version = 0): BenchObject {
  return sized(1024, (padding) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace, labels: { app: 'bench', version: String(version) } },
    data: { 'config.txt': filler(`${name}:${version}`, 64) + padding },
  }));
}

/** Deterministic pseudo-random numbers in [0, 1), so every run does the same reads. */
export function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}
