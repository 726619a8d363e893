import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as store from '../../src/store/index';

const indexSource = readFileSync(new URL('../../src/store/index.ts', import.meta.url), 'utf8');

/** The ```js block of the @packageDocumentation comment, without the leading ` * `. */
function documentedExample(): string {
  const block = /```js\n([\s\S]*?) \* ```/.exec(indexSource)?.[1];
  if (block === undefined) throw new Error('src/store/index.ts has no ```js example');
  return block
    .split('\n')
    .map((line) => line.replace(/^ \* ?/, ''))
    .join('\n');
}

const IMPORT = /^import \{ ([^}]+) \} from '([^']+)';$/gm;

describe('the example at the top of src/store/index.ts', () => {
  it('runs against the store sources', async () => {
    const code = documentedExample();
    const modules: Record<string, Record<string, unknown>> = {
      // The package entry re-exports the store; the example runs against the store module itself.
      '@ke/apiserver': store as unknown as Record<string, unknown>,
      'node:assert/strict': (await import('node:assert/strict')) as unknown as Record<
        string,
        unknown
      >,
    };
    const bindings: Array<[string, unknown]> = [];
    for (const [, imported, from] of code.matchAll(IMPORT)) {
      for (const name of imported!.split(',').map((part) => part.trim())) {
        expect(modules[from!], `module ${from}`).toHaveProperty(name);
        bindings.push([name, modules[from!]![name]]);
      }
    }
    const body = code.replace(IMPORT, '');
    expect(body).not.toMatch(/^\s*import\b/m);
    const logs: unknown[][] = [];
    const console = { log: (...args: unknown[]) => logs.push(args) };
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
      ...args: string[]
    ) => (...values: unknown[]) => Promise<void>;
    await new AsyncFunction(...bindings.map(([name]) => name), 'console', body)(
      ...bindings.map(([, value]) => value),
      console,
    );
    expect(logs).toEqual([
      ['rejected:', 'KE_STORE_CONFLICT'],
      ['events:', 'ADDED app 1, MODIFIED app 2, DELETED app 3, ADDED app-2 4'],
      ['store closed'],
    ]);
  });
});
