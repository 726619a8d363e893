/**
 * The runnable example of a package README: the first ```js block after `## Example`.
 * READMEs keep it as ESM with single-line named imports so it can also be run as CommonJS.
 */
export function readmeExample(readme: string, source = 'README.md'): string {
  const heading = readme.search(/^## Example\s*$/m);
  if (heading < 0) throw new Error(`${source}: no '## Example' heading`);
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(heading));
  if (!block?.[1]?.trim()) throw new Error(`${source}: no \`\`\`js block after '## Example'`);
  return block[1];
}

/** The ```js `@example` of a package's `src/index.ts` doc comment, without the ` * ` margin. */
export function docExample(indexSource: string, source = 'src/index.ts'): string {
  const match = /@example\s*\n \* ```js\n([\s\S]*?) \* ```/.exec(indexSource);
  if (!match?.[1]) throw new Error(`${source}: no \`\`\`js @example`);
  return match[1]
    .split('\n')
    .map((line) => line.replace(/^ \* ?/, ''))
    .join('\n');
}

const namedImport = /^import\s*\{([^}]*)\}\s*from\s*(['"][^'"]+['"]);?\s*$/;

/** The same example as CommonJS: `import { a } from 'x'` → `require`, the rest in an async IIFE. */
export function toCommonJs(example: string, source = 'README.md'): string {
  const requires: string[] = [];
  const body: string[] = [];
  for (const line of example.split('\n')) {
    if (/^import\s/.test(line)) {
      const match = namedImport.exec(line);
      if (!match) throw new Error(`${source}: only single-line named imports, got: ${line}`);
      const names = match[1]!.replace(/\s+as\s+/g, ': ').trim();
      requires.push(`const { ${names} } = require(${match[2]});`);
    } else {
      body.push(line);
    }
  }
  return [
    "'use strict';",
    ...requires,
    '(async () => {',
    ...body,
    '})().catch((error) => {',
    '  console.error(error);',
    '  process.exit(1);',
    '});',
    '',
  ].join('\n');
}
