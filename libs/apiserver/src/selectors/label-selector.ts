import { SelectorError } from './errors';
import { invalidValue, labelKeyErrors, labelValueErrors } from './label-validation';

/**
 * The operators of a label requirement, spelled as Kubernetes spells them internally
 * (`selection.Operator`): `!` is "does not exist", `gt`/`lt` compare integers.
 */
export type LabelOperator = 'in' | 'notin' | '=' | '==' | '!=' | 'exists' | '!' | 'gt' | 'lt';

/** One condition on one label key; a selector is the AND of its requirements. */
export interface LabelRequirement {
  readonly key: string;
  readonly operator: LabelOperator;
  /** Empty for `exists` and `!`, one value for `=`, `==`, `!=`, `gt`, `lt`, one or more for `in`/`notin`. */
  readonly values: readonly string[];
}

/**
 * A parsed label selector. No requirements selects everything; `matchesNothing` is set only for the
 * selector made from an absent (`null`) `LabelSelector` object, which Kubernetes treats as "select
 * nothing".
 */
export interface LabelSelector {
  readonly requirements: readonly LabelRequirement[];
  readonly matchesNothing?: true;
}

/** The `metav1.LabelSelector` object shape (`V1LabelSelector` of `@kubernetes/client-node` fits). */
export interface LabelSelectorObject {
  matchLabels?: Record<string, string> | undefined;
  matchExpressions?:
    | ReadonlyArray<{ key: string; operator: string; values?: readonly string[] | undefined }>
    | undefined;
}

/** Selects every object. */
export const everythingLabelSelector: LabelSelector = Object.freeze({ requirements: [] });

/** Selects no object. */
export const nothingLabelSelector: LabelSelector = Object.freeze({
  requirements: [],
  matchesNothing: true,
});

const binaryOperators: readonly LabelOperator[] = ['in', 'notin', '=', '==', '!=', 'gt', 'lt'];

/**
 * Builds one requirement and validates it as Kubernetes' `NewRequirement` does, naming the
 * offending part by its field path (`key: ...`, `values[0][app]: Invalid value: ...`).
 */
function newRequirement(
  key: string,
  operator: LabelOperator,
  values: readonly string[],
): LabelRequirement {
  const errors: string[] = [];
  const keyErrors = labelKeyErrors(key);
  if (keyErrors.length > 0) errors.push(invalidValue('key', key, keyErrors));
  switch (operator) {
    case 'in':
    case 'notin':
      if (values.length === 0) {
        errors.push(
          invalidValue('values', values, [
            "for 'in', 'notin' operators, values set can't be empty",
          ]),
        );
      }
      break;
    case '=':
    case '==':
    case '!=':
      if (values.length !== 1) {
        errors.push(
          invalidValue('values', values, ['exact-match compatibility requires one single value']),
        );
      }
      break;
    case 'exists':
    case '!':
      if (values.length !== 0) {
        errors.push(
          invalidValue('values', values, [
            'values set must be empty for exists and does not exist',
          ]),
        );
      }
      break;
    case 'gt':
    case 'lt':
      if (values.length !== 1) {
        errors.push(
          invalidValue('values', values, [
            "for 'Gt', 'Lt' operators, exactly one value is required",
          ]),
        );
      }
      values.forEach((value, index) => {
        if (parseInteger(value) === undefined) {
          errors.push(
            invalidValue(`values[${index}]`, value, [
              "for 'Gt', 'Lt' operators, the value must be an integer",
            ]),
          );
        }
      });
      break;
  }
  values.forEach((value, index) => {
    const valueErrors = labelValueErrors(value);
    if (valueErrors.length > 0)
      errors.push(invalidValue(`values[${index}][${key}]`, value, valueErrors));
  });
  if (errors.length === 1) throw new SelectorError('KE_SELECTOR_INVALID', errors[0] ?? '');
  if (errors.length > 1) throw new SelectorError('KE_SELECTOR_INVALID', `[${errors.join(', ')}]`);
  return { key, operator, values };
}

/** A base-10 64-bit integer as Go's `strconv.ParseInt` accepts it, or undefined. */
function parseInteger(text: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const value = BigInt(text);
  if (value > 9223372036854775807n || value < -9223372036854775808n) return undefined;
  return value;
}

// ---- lexer ---------------------------------------------------------------------------------

type TokenKind =
  | 'end'
  | 'identifier'
  | 'error'
  | '('
  | ')'
  | ','
  | '!'
  | '='
  | '=='
  | '!='
  | '>'
  | '<'
  | 'in'
  | 'notin';

interface Token {
  readonly kind: TokenKind;
  readonly literal: string;
}

/** Literal spellings of the operator and punctuation tokens. */
const symbolTokens: ReadonlyMap<string, TokenKind> = new Map<string, TokenKind>([
  ['(', '('],
  [')', ')'],
  [',', ','],
  ['!', '!'],
  ['=', '='],
  ['==', '=='],
  ['!=', '!='],
  ['>', '>'],
  ['<', '<'],
]);

const isWhitespace = (char: string) =>
  char === ' ' || char === '\t' || char === '\r' || char === '\n';
const isSymbol = (char: string) => '=!(),<>'.includes(char);

/** Splits selector text into tokens; identifiers run until whitespace or a symbol character. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let position = 0;
  for (;;) {
    while (position < text.length && isWhitespace(text.charAt(position))) position++;
    if (position >= text.length) {
      tokens.push({ kind: 'end', literal: '' });
      return tokens;
    }
    const start = position;
    if (isSymbol(text.charAt(position))) {
      // The longest run of symbol characters that still spells a token: `!=`, `==`, else one char.
      let matched: Token | undefined;
      while (position < text.length && isSymbol(text.charAt(position))) {
        const candidate = text.slice(start, position + 1);
        const kind = symbolTokens.get(candidate);
        if (kind !== undefined) matched = { kind, literal: candidate };
        else if (matched !== undefined) break;
        position++;
      }
      tokens.push(
        matched ?? {
          kind: 'error',
          literal: `error expected: keyword found '${text.slice(start, position)}'`,
        },
      );
      if (matched !== undefined) position = start + matched.literal.length;
      continue;
    }
    while (
      position < text.length &&
      !isWhitespace(text.charAt(position)) &&
      !isSymbol(text.charAt(position))
    ) {
      position++;
    }
    const literal = text.slice(start, position);
    const kind: TokenKind = literal === 'in' || literal === 'notin' ? literal : 'identifier';
    tokens.push({ kind, literal });
  }
}

// ---- parser --------------------------------------------------------------------------------

/**
 * Where the parser is: after a key `in`/`notin` are operators; among values they are plain words
 * (`env in (in, notin)` is valid).
 */
type ParseContext = 'operator' | 'values';

class LabelSelectorParser {
  private position = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  private lookahead(context: ParseContext): Token {
    return this.asContext(this.tokens[this.position] ?? { kind: 'end', literal: '' }, context);
  }

  private consume(context: ParseContext): Token {
    const token = this.lookahead(context);
    if (this.position < this.tokens.length - 1) this.position++;
    return token;
  }

  private asContext(token: Token, context: ParseContext): Token {
    if (context === 'values' && (token.kind === 'in' || token.kind === 'notin')) {
      return { kind: 'identifier', literal: token.literal };
    }
    return token;
  }

  parse(): LabelRequirement[] {
    const requirements: LabelRequirement[] = [];
    for (;;) {
      const next = this.lookahead('values');
      if (next.kind === 'end') return requirements;
      if (next.kind !== 'identifier' && next.kind !== '!') {
        throw invalid(`found '${next.literal}', expected: !, identifier, or 'end of string'`);
      }
      try {
        requirements.push(this.parseRequirement());
      } catch (error) {
        if (error instanceof SelectorError) {
          throw invalid(`unable to parse requirement: ${error.message}`);
        }
        throw error;
      }
      const separator = this.consume('values');
      if (separator.kind === 'end') return requirements;
      if (separator.kind !== ',') {
        throw invalid(`found '${separator.literal}', expected: ',' or 'end of string'`);
      }
      const after = this.lookahead('values');
      if (after.kind !== 'identifier' && after.kind !== '!') {
        throw invalid(`found '${after.literal}', expected: identifier after ','`);
      }
    }
  }

  private parseRequirement(): LabelRequirement {
    let token = this.consume('values');
    let doesNotExist = false;
    if (token.kind === '!') {
      doesNotExist = true;
      token = this.consume('values');
    }
    if (token.kind !== 'identifier')
      throw invalid(`found '${token.literal}', expected: identifier`);
    const key = token.literal;
    const keyErrors = labelKeyErrors(key);
    if (keyErrors.length > 0) throw invalid(invalidValue('', key, keyErrors));
    if (doesNotExist) return newRequirement(key, '!', []);
    const following = this.lookahead('values').kind;
    if (following === 'end' || following === ',') return newRequirement(key, 'exists', []);

    const operator = this.parseOperator();
    const values =
      operator === 'in' || operator === 'notin' ? this.parseValueSet() : this.parseExactValue();
    return newRequirement(key, operator, values);
  }

  private parseOperator(): LabelOperator {
    const token = this.consume('operator');
    switch (token.kind) {
      case 'in':
        return 'in';
      case 'notin':
        return 'notin';
      case '=':
        return '=';
      case '==':
        return '==';
      case '!=':
        return '!=';
      case '>':
        return 'gt';
      case '<':
        return 'lt';
      default:
        throw invalid(`found '${token.literal}', expected: ${binaryOperators.join(', ')}`);
    }
  }

  /** `(a, b, c)`; empty entries stand for the empty value (`()`, `(a,)`, `(,,)`). */
  private parseValueSet(): string[] {
    const open = this.consume('values');
    if (open.kind !== '(') throw invalid(`found '${open.literal}' expected: '('`);
    const first = this.lookahead('values');
    if (first.kind === ')') {
      this.consume('values');
      return [''];
    }
    if (first.kind !== 'identifier' && first.kind !== ',') {
      throw invalid(`found '${first.literal}', expected: ',', ')' or identifier`);
    }
    const values = new Set<string>();
    for (;;) {
      const token = this.consume('values');
      if (token.kind === 'identifier') {
        values.add(token.literal);
        const after = this.lookahead('values');
        if (after.kind === ',') continue;
        if (after.kind === ')') break;
        throw invalid(`found '${after.literal}', expected: ',' or ')'`);
      }
      if (token.kind === ',') {
        if (values.size === 0) values.add('');
        const after = this.lookahead('values');
        if (after.kind === ')') {
          values.add('');
          break;
        }
        if (after.kind === ',') {
          this.consume('values');
          values.add('');
        }
        continue;
      }
      throw invalid(`found '${token.literal}', expected: ',', or identifier`);
    }
    const close = this.consume('values');
    if (close.kind !== ')') throw invalid(`found '${first.literal}', expected: ')'`);
    return [...values].sort();
  }

  /** The one value after `=`, `==`, `!=`, `>`, `<`; nothing before `,` or the end means "". */
  private parseExactValue(): string[] {
    const next = this.lookahead('values');
    if (next.kind === 'end' || next.kind === ',') return [''];
    const token = this.consume('values');
    if (token.kind === 'identifier') return [token.literal];
    throw invalid(`found '${token.literal}', expected: identifier`);
  }
}

function invalid(message: string): SelectorError {
  return new SelectorError('KE_SELECTOR_INVALID', message);
}

const byKey = (left: LabelRequirement, right: LabelRequirement) =>
  left.key < right.key ? -1 : left.key > right.key ? 1 : 0;

/**
 * Parses the `labelSelector` query syntax of Kubernetes: comma-separated requirements, each one of
 * `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`,
 * `key>1`, `key<1`. Whitespace around tokens is ignored. Keys and values are validated as label
 * keys and values. The empty string selects everything.
 *
 * @throws {SelectorError} `KE_SELECTOR_INVALID` with the API server's message.
 */
export function parseLabelSelector(text: string): LabelSelector {
  try {
    const requirements = new LabelSelectorParser(tokenize(text)).parse();
    return { requirements: requirements.sort(byKey) };
  } catch (error) {
    if (error instanceof SelectorError) {
      throw new SelectorError(error.code, error.message, { selector: text });
    }
    throw error;
  }
}

const expressionOperators: Readonly<Record<string, LabelOperator>> = {
  In: 'in',
  NotIn: 'notin',
  Exists: 'exists',
  DoesNotExist: '!',
};

/**
 * Turns a `metav1.LabelSelector` object (`matchLabels` and `matchExpressions` with `In`, `NotIn`,
 * `Exists`, `DoesNotExist`) into a selector. An empty object selects everything; `null` or
 * `undefined` selects nothing, as in Kubernetes.
 *
 * @throws {SelectorError} `KE_SELECTOR_INVALID` for an unknown operator or an invalid key or value.
 */
export function labelSelectorFromObject(
  selector: LabelSelectorObject | null | undefined,
): LabelSelector {
  if (selector === null || selector === undefined) return nothingLabelSelector;
  const requirements: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    requirements.push(newRequirement(key, '=', [value]));
  }
  for (const expression of selector.matchExpressions ?? []) {
    const operator = expressionOperators[expression.operator];
    if (operator === undefined) {
      throw new SelectorError(
        'KE_SELECTOR_INVALID',
        `${JSON.stringify(expression.operator)} is not a valid label selector operator`,
      );
    }
    requirements.push(newRequirement(expression.key, operator, [...(expression.values ?? [])]));
  }
  return { requirements: requirements.sort(byKey) };
}

function requirementMatches(
  requirement: LabelRequirement,
  labels: Record<string, string>,
): boolean {
  const has = Object.hasOwn(labels, requirement.key);
  const value = has ? labels[requirement.key] : undefined;
  switch (requirement.operator) {
    case 'in':
    case '=':
    case '==':
      return value !== undefined && requirement.values.includes(value);
    case 'notin':
    case '!=':
      return value === undefined || !requirement.values.includes(value);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      if (value === undefined) return false;
      const actual = parseInteger(value);
      const bound =
        requirement.values.length === 1 ? parseInteger(requirement.values[0] ?? '') : undefined;
      if (actual === undefined || bound === undefined) return false;
      return requirement.operator === 'gt' ? actual > bound : actual < bound;
    }
  }
}

/**
 * Whether an object's labels satisfy every requirement of the selector. The empty selector matches
 * every object, including one without labels.
 */
export function matchesLabels(
  selector: LabelSelector,
  labels: Record<string, string> | null | undefined,
): boolean {
  if (selector.matchesNothing) return false;
  const set = labels ?? {};
  return selector.requirements.every((requirement) => requirementMatches(requirement, set));
}

/** The canonical text of a selector (keys sorted, set values sorted), as Kubernetes prints it. */
export function formatLabelSelector(selector: LabelSelector): string {
  return selector.requirements
    .map((requirement) => {
      const values = [...requirement.values].sort().join(',');
      switch (requirement.operator) {
        case 'exists':
          return requirement.key;
        case '!':
          return `!${requirement.key}`;
        case 'in':
          return `${requirement.key} in (${values})`;
        case 'notin':
          return `${requirement.key} notin (${values})`;
        case 'gt':
          return `${requirement.key}>${values}`;
        case 'lt':
          return `${requirement.key}<${values}`;
        default:
          return `${requirement.key}${requirement.operator}${values}`;
      }
    })
    .join(',');
}
