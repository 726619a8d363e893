/**
 * Label and field selectors with Kubernetes semantics: the `labelSelector` and `fieldSelector`
 * query syntax, `metav1.LabelSelector` objects, and the fields each resource can be selected by.
 * Pure functions; errors are {@link SelectorError}s the HTTP layer answers with `400 BadRequest`.
 *
 * @example
 * ```ts
 * import {
 *   fieldsOf,
 *   matchesFields,
 *   matchesLabels,
 *   parseFieldSelector,
 *   parseLabelSelector,
 *   validateFieldSelector,
 * } from './selectors';
 *
 * const pod = {
 *   metadata: { name: 'web-0', namespace: 'shop', labels: { app: 'web', tier: 'front' } },
 *   spec: { nodeName: 'edge-1' },
 * };
 * const labels = parseLabelSelector('app in (web, api), !canary');
 * const fields = validateFieldSelector('core/pods', parseFieldSelector('spec.nodeName=edge-1'));
 * matchesLabels(labels, pod.metadata.labels); // true
 * matchesFields(fields, fieldsOf('core/pods', pod)); // true
 * validateFieldSelector('core/pods', parseFieldSelector('spec.foo=x'));
 * // throws SelectorError KE_SELECTOR_UNSUPPORTED_FIELD "field label not supported: spec.foo"
 * ```
 */

export { SelectorError, SelectorErrorCode } from './errors';
export {
  escapeFieldSelectorValue,
  everythingFieldSelector,
  type FieldOperator,
  type FieldRequirement,
  type FieldSelector,
  formatFieldSelector,
  matchesFields,
  parseFieldSelector,
} from './field-selector';
export {
  everythingLabelSelector,
  formatLabelSelector,
  type LabelOperator,
  type LabelRequirement,
  type LabelSelector,
  type LabelSelectorObject,
  labelSelectorFromObject,
  matchesLabels,
  nothingLabelSelector,
  parseLabelSelector,
} from './label-selector';
export {
  fieldsOf,
  type SelectableFieldsOptions,
  selectableFieldsOf,
  validateFieldSelector,
} from './selectable-fields';
