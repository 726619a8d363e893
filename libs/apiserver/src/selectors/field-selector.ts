import { SelectorError } from './errors';

/** `=` and `==` mean the same; `!=` also matches objects that lack the field (its value is ""). */
export type FieldOperator = '=' | '==' | '!=';

export interface FieldRequirement {
  /** A selectable field label such as `metadata.name` or `spec.nodeName`. */
  readonly field: string;
  readonly operator: FieldOperator;
  /** The value with escapes (`\,` `\=` `\\`) resolved. */
  readonly value: string;
}

/** A parsed field selector; no requirements selects everything. */
export interface FieldSelector {
  readonly requirements: readonly FieldRequirement[];
}

/** Selects every object. */
export const everythingFieldSelector: FieldSelector = Object.freeze({ requirements: [] });

/** Splits on commas that are not escaped; the backslashes stay for {@link unescapeValue}. */
function splitTerms(text: string): string[] {
  if (text === '') return [];
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let index = 0; index < text.length; index++) {
    const char = text.charAt(index);
    if (escaped) escaped = false;
    else if (char === '\\') escaped = true;
    else if (char === ',') {
      terms.push(text.slice(start, index));
      start = index + 1;
    }
  }
  terms.push(text.slice(start));
  return terms;
}

// `!=` and `==` are tried before `=` at each position so that `a==b` does not leave `=b` as value.
const operators: readonly FieldOperator[] = ['!=', '==', '='];

/** The field, operator and raw value of one term, split at the first operator; field names have no escapes. */
function splitTerm(term: string): FieldRequirement | undefined {
  for (let index = 0; index < term.length; index++) {
    for (const operator of operators) {
      if (term.startsWith(operator, index)) {
        return {
          field: term.slice(0, index),
          operator,
          value: term.slice(index + operator.length),
        };
      }
    }
  }
  return undefined;
}

function unescapeValue(raw: string, selector: string): string {
  let value = '';
  let escaped = false;
  for (const char of raw) {
    if (escaped) {
      if (char !== '\\' && char !== ',' && char !== '=') {
        throw new SelectorError(
          'KE_SELECTOR_INVALID',
          `invalid field selector: invalid escape sequence: \\${char}`,
          { selector },
        );
      }
      value += char;
      escaped = false;
    } else if (char === '\\') {
      escaped = true;
    } else if (char === ',' || char === '=') {
      throw new SelectorError(
        'KE_SELECTOR_INVALID',
        `invalid field selector: unescaped character in value: ${char} (write it as \\${char})`,
        { selector },
      );
    } else {
      value += char;
    }
  }
  if (escaped) {
    throw new SelectorError(
      'KE_SELECTOR_INVALID',
      'invalid field selector: invalid escape sequence: \\',
      {
        selector,
      },
    );
  }
  return value;
}

/**
 * Parses the `fieldSelector` query syntax of Kubernetes: comma-separated `field=value`,
 * `field==value` or `field!=value` terms. In values, `\,`, `\=` and `\\` stand for `,`, `=` and
 * `\`. Empty terms are skipped; the empty string selects everything. Whether the fields exist for
 * a resource is checked by {@link validateFieldSelector}.
 *
 * @throws {SelectorError} `KE_SELECTOR_INVALID` with the API server's message.
 */
export function parseFieldSelector(text: string): FieldSelector {
  const requirements: FieldRequirement[] = [];
  // Sorted like Kubernetes does, so that equal selectors print the same.
  for (const term of splitTerms(text).sort()) {
    if (term === '') continue;
    const split = splitTerm(term);
    if (split === undefined) {
      throw new SelectorError(
        'KE_SELECTOR_INVALID',
        `invalid selector: '${text}'; can't understand '${term}'`,
        { selector: text },
      );
    }
    requirements.push({ ...split, value: unescapeValue(split.value, text) });
  }
  return { requirements };
}

/**
 * Whether an object's selectable fields (see `fieldsOf`) satisfy every requirement. A field the
 * object does not have counts as the empty string, as in Kubernetes.
 */
export function matchesFields(
  selector: FieldSelector,
  fields: Readonly<Record<string, string>>,
): boolean {
  return selector.requirements.every((requirement) => {
    const actual = Object.hasOwn(fields, requirement.field) ? fields[requirement.field] : '';
    return requirement.operator === '!='
      ? actual !== requirement.value
      : actual === requirement.value;
  });
}

/** Escapes `\`, `,` and `=` in a value so it can be put in a field selector. */
export function escapeFieldSelectorValue(value: string): string {
  return value.replace(/[\\,=]/g, (char) => `\\${char}`);
}

/** The text of a selector, with values escaped. */
export function formatFieldSelector(selector: FieldSelector): string {
  return selector.requirements
    .map(
      (requirement) =>
        `${requirement.field}${requirement.operator === '!=' ? '!=' : '='}${escapeFieldSelectorValue(requirement.value)}`,
    )
    .join(',');
}
