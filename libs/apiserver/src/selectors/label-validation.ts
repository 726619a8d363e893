// Label key and value rules of Kubernetes (apimachinery `util/validation`), with the same wording in
// the messages so that a kubectl user sees what the real API server would say.

const labelNameFormat = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const labelNamePattern = new RegExp(`^${labelNameFormat}$`);
const labelNameMessage =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const labelNameMaxLength = 63;

const labelValueFormat = `(${labelNameFormat})?`;
const labelValuePattern = new RegExp(`^${labelValueFormat}$`);
const labelValueMessage =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const labelValueMaxLength = 63;

const dnsLabelFormat = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const dnsSubdomainFormat = `${dnsLabelFormat}(\\.${dnsLabelFormat})*`;
const dnsSubdomainPattern = new RegExp(`^${dnsSubdomainFormat}$`);
const dnsSubdomainMessage =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const dnsSubdomainMaxLength = 253;

/** Kubernetes' `RegexError` wording, including its examples (and its double spaces). */
function regexError(message: string, format: string, ...examples: string[]): string {
  if (examples.length === 0) return `${message} (regex used for validation is '${format}')`;
  const shown = examples.map((example) => `'${example}', `).join(' or ');
  return `${message} (e.g. ${shown}regex used for validation is '${format}')`;
}

const maxLengthError = (length: number) => `must be no more than ${length} characters`;
const emptyError = 'must be non-empty';

function dnsSubdomainErrors(value: string): string[] {
  const errors: string[] = [];
  if (value.length > dnsSubdomainMaxLength) errors.push(maxLengthError(dnsSubdomainMaxLength));
  if (!dnsSubdomainPattern.test(value)) {
    errors.push(regexError(dnsSubdomainMessage, dnsSubdomainFormat, 'example.com'));
  }
  return errors;
}

/**
 * What is wrong with a label key (a "qualified name": optional DNS-subdomain prefix and `/`, then a
 * name of at most 63 characters); empty when it is valid.
 */
export function labelKeyErrors(key: string): string[] {
  const parts = key.split('/');
  let name: string;
  const errors: string[] = [];
  if (parts.length === 1) {
    name = key;
  } else if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    name = parts[1] ?? '';
    if (prefix.length === 0) errors.push(`prefix part ${emptyError}`);
    else errors.push(...dnsSubdomainErrors(prefix).map((error) => `prefix part ${error}`));
  } else {
    return [
      `a qualified name ${regexError(labelNameMessage, labelNameFormat, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errors.push(`name part ${emptyError}`);
  else if (name.length > labelNameMaxLength) {
    errors.push(`name part ${maxLengthError(labelNameMaxLength)}`);
  }
  if (!labelNamePattern.test(name)) {
    errors.push(
      `name part ${regexError(labelNameMessage, labelNameFormat, 'MyName', 'my.name', '123-abc')}`,
    );
  }
  return errors;
}

/** What is wrong with a label value (empty, or at most 63 alphanumerics, `-`, `_`, `.`). */
export function labelValueErrors(value: string): string[] {
  const errors: string[] = [];
  if (value.length > labelValueMaxLength) errors.push(maxLengthError(labelValueMaxLength));
  if (!labelValuePattern.test(value)) {
    errors.push(regexError(labelValueMessage, labelValueFormat, 'MyValue', 'my_value', '12345'));
  }
  return errors;
}

/** A field error as Kubernetes prints it: `<path>: Invalid value: "<value>": <detail>`. */
export function invalidValue(
  path: string,
  value: string | readonly string[],
  details: readonly string[],
): string {
  const body = `Invalid value: ${JSON.stringify(value)}: ${details.join('; ')}`;
  return path === '' ? body : `${path}: ${body}`;
}
