import { describe, expect, it } from 'vitest';
import { formatLabelSelector, parseLabelSelector, SelectorError } from '../../src/selectors';

const nameRule =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const valueRule =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

describe('parseLabelSelector', () => {
  it.each([
    // [input, canonical form: requirements sorted by key, set values sorted]
    ['', ''],
    ['   ', ''],
    ['app=web', 'app=web'],
    ['app==web', 'app==web'],
    ['app!=web', 'app!=web'],
    ['app', 'app'],
    ['!app', '!app'],
    ['tier in (front, back)', 'tier in (back,front)'],
    ['tier notin (front)', 'tier notin (front)'],
    ['x in (foo,,baz),y,z notin ()', 'x in (,baz,foo),y,z notin ()'],
    ['a in (,)', 'a in ()'],
    ['env in (in, notin)', 'env in (in,notin)'],
    ['  app = web ,\ttier\n!= db ', 'app=web,tier!=db'],
    ['app=', 'app='],
    ['z=1,a=2,m', 'a=2,m,z=1'],
    ['example.com/app=web', 'example.com/app=web'],
    ['replicas>3', 'replicas>3'],
    ['replicas<3', 'replicas<3'],
    ['a=b,!c,d in (e)', 'a=b,!c,d in (e)'],
  ])('parses %j', (text, canonical) => {
    expect(formatLabelSelector(parseLabelSelector(text))).toBe(canonical);
  });

  it('gives the requirements with Kubernetes operators', () => {
    expect(parseLabelSelector('!b, a in (y, x), c, d!=e, f>1').requirements).toEqual([
      { key: 'a', operator: 'in', values: ['x', 'y'] },
      { key: 'b', operator: '!', values: [] },
      { key: 'c', operator: 'exists', values: [] },
      { key: 'd', operator: '!=', values: ['e'] },
      { key: 'f', operator: 'gt', values: ['1'] },
    ]);
  });

  it.each([
    ['a,', "found '', expected: identifier after ','"],
    [',a', "found ',', expected: !, identifier, or 'end of string'"],
    ['a b', "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"],
    ['a=b=c', "found '=', expected: ',' or 'end of string'"],
    ['a=b c', "found 'c', expected: ',' or 'end of string'"],
    ['!a=b', "found '=', expected: ',' or 'end of string'"],
    ['x in a', "unable to parse requirement: found 'a' expected: '('"],
    ['x in (a b)', "unable to parse requirement: found 'b', expected: ',' or ')'"],
    ['x in (a', "unable to parse requirement: found '', expected: ',' or ')'"],
    ['x in (=)', "unable to parse requirement: found '=', expected: ',', ')' or identifier"],
    ['a=(', "unable to parse requirement: found '(', expected: identifier"],
    ['a$', `unable to parse requirement: Invalid value: "a$": name part ${nameRule}`],
    ['-a', `unable to parse requirement: Invalid value: "-a": name part ${nameRule}`],
    [
      'foo/bar/baz',
      `unable to parse requirement: Invalid value: "foo/bar/baz": a qualified name ${nameRule} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ],
    ['/a', 'unable to parse requirement: Invalid value: "/a": prefix part must be non-empty'],
    [
      'Example.com/a',
      `unable to parse requirement: Invalid value: "Example.com/a": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    ],
    [
      `${'k'.repeat(64)}=v`,
      `unable to parse requirement: Invalid value: "${'k'.repeat(64)}": name part must be no more than 63 characters`,
    ],
    [
      `k=${'v'.repeat(64)}`,
      `unable to parse requirement: values[0][k]: Invalid value: "${'v'.repeat(64)}": must be no more than 63 characters`,
    ],
    ['k=-v', `unable to parse requirement: values[0][k]: Invalid value: "-v": ${valueRule}`],
    [
      'k in (ok, b@d)',
      `unable to parse requirement: values[0][k]: Invalid value: "b@d": ${valueRule}`,
    ],
    [
      'k>x',
      "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer",
    ],
  ])('refuses %j: %s', (text, message) => {
    let thrown: unknown;
    try {
      parseLabelSelector(text);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SelectorError);
    expect(thrown).toMatchObject({ code: 'KE_SELECTOR_INVALID', message, selector: text });
  });
});
