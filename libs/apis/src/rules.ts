import type { V1LabelSelector } from '@kubernetes/client-node';
import type { EdgeApplication, Overriders } from './apps';
import type { Device, DeviceModel } from './devices';
import type { ImagePullJob, NodeImage } from './kruise';
import type { PathSegment } from './paths';
import type { KnownObject } from './registry';

/**
 * Rules a schema cannot express, which upstream checks in admission webhooks or controllers.
 * They run only on objects that already match their schema, so they may trust the types.
 */

type Report = (path: PathSegment[], message: string) => void;
type Rule<T> = (object: T, report: Report) => void;

const LABEL_SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/** What `metav1.LabelSelectorAsSelector` rejects. */
function checkLabelSelector(selector: V1LabelSelector, at: PathSegment[], report: Report): void {
  selector.matchExpressions?.forEach((requirement, i) => {
    const here = [...at, 'matchExpressions', i];
    const values = requirement.values ?? [];
    if (!LABEL_SELECTOR_OPERATORS.includes(requirement.operator)) {
      report(
        [...here, 'operator'],
        `unsupported value ${JSON.stringify(requirement.operator)}; expected one of ${LABEL_SELECTOR_OPERATORS.map((op) => `"${op}"`).join(', ')}`,
      );
    } else if (
      (requirement.operator === 'In' || requirement.operator === 'NotIn') &&
      values.length === 0
    ) {
      report([...here, 'values'], `must be non-empty when operator is "${requirement.operator}"`);
    } else if (
      (requirement.operator === 'Exists' || requirement.operator === 'DoesNotExist') &&
      values.length > 0
    ) {
      report([...here, 'values'], `must be empty when operator is "${requirement.operator}"`);
    }
  });
}

/** Reports every entry after the first that repeats a name. */
function checkUnique(
  names: (string | undefined)[],
  at: (index: number) => PathSegment[],
  what: string,
  report: Report,
) {
  const seen = new Set<string>();
  names.forEach((name, i) => {
    if (name === undefined) return;
    if (seen.has(name)) report(at(i), `duplicate ${what} ${JSON.stringify(name)}`);
    seen.add(name);
  });
}

const checkDevice: Rule<Device> = (device, report) => {
  const properties = device.spec.properties ?? [];
  checkUnique(
    properties.map((property) => property.name),
    (i) => ['spec', 'properties', i, 'name'],
    'property name',
    report,
  );
  const methods = device.spec.methods ?? [];
  checkUnique(
    methods.map((method) => method.name),
    (i) => ['spec', 'methods', i, 'name'],
    'method name',
    report,
  );
};

const checkDeviceModel: Rule<DeviceModel> = (model, report) => {
  const properties = model.spec.properties ?? [];
  checkUnique(
    properties.map((property) => property.name),
    (i) => ['spec', 'properties', i, 'name'],
    'property name',
    report,
  );
};

function checkOverriders(
  overriders: Overriders | undefined,
  at: PathSegment[],
  report: Report,
): void {
  overriders?.imageOverriders?.forEach((rule, i) => {
    if (rule.operator !== 'remove' && !rule.value) {
      report(
        [...at, 'imageOverriders', i, 'value'],
        `must not be empty when operator is "${rule.operator}"`,
      );
    }
  });
  overriders?.envOverriders?.forEach((rule, i) => {
    if (rule.operator !== 'remove' && (rule.value ?? []).length === 0) {
      report(
        [...at, 'envOverriders', i, 'value'],
        `must not be empty when operator is "${rule.operator}"`,
      );
    }
  });
}

const checkEdgeApplication: Rule<EdgeApplication> = (app, report) => {
  app.spec.workloadTemplate?.manifests?.forEach((manifest, i) => {
    const at = ['spec', 'workloadTemplate', 'manifests', i];
    // The controller cannot create an object it cannot identify.
    if (typeof manifest.apiVersion !== 'string' || manifest.apiVersion === '') {
      report([...at, 'apiVersion'], 'required field is missing');
    }
    if (typeof manifest.kind !== 'string' || manifest.kind === '')
      report([...at, 'kind'], 'required field is missing');
    if (typeof manifest.metadata?.name !== 'string' || manifest.metadata.name === '') {
      report([...at, 'metadata', 'name'], 'required field is missing');
    }
  });
  const scope = app.spec.workloadScope;
  scope.targetNodeGroups?.forEach((group, i) => {
    checkOverriders(
      group.overriders,
      ['spec', 'workloadScope', 'targetNodeGroups', i, 'overriders'],
      report,
    );
  });
  scope.targetNodeLabels?.forEach((target, i) => {
    const at = ['spec', 'workloadScope', 'targetNodeLabels', i];
    if (target.labelSelector)
      checkLabelSelector(target.labelSelector, [...at, 'labelSelector'], report);
    checkOverriders(target.overriders, [...at, 'overriders'], report);
  });
};

/** A docker image reference: `[registry[:port]/]path[:tag][@digest]`, path components lower case. */
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const IMAGE_REFERENCE = new RegExp(
  `^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?` +
    `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);

/** Kruise's defaults, which its webhook compares against. */
const DEFAULT_PULL_TIMEOUT_SECONDS = 600;

const checkImagePullJob: Rule<ImagePullJob> = (job, report) => {
  const spec = job.spec;
  if (spec.image === '') report(['spec', 'image'], 'must not be empty');
  else if (!IMAGE_REFERENCE.test(spec.image))
    report(['spec', 'image'], `invalid image reference ${JSON.stringify(spec.image)}`);

  if (typeof spec.parallelism === 'number' && spec.parallelism < 0) {
    report(['spec', 'parallelism'], `must be >= 0, got ${spec.parallelism}`);
  } else if (typeof spec.parallelism === 'string' && !/^\d+$/.test(spec.parallelism)) {
    report(
      ['spec', 'parallelism'],
      `must be a non-negative integer, got ${JSON.stringify(spec.parallelism)}`,
    );
  }

  const selector = spec.selector;
  if (selector) {
    if (
      selector.names !== undefined &&
      (selector.matchLabels !== undefined || selector.matchExpressions !== undefined)
    ) {
      report(['spec', 'selector'], 'can not set both names and matchLabels/matchExpressions');
    }
    checkUnique(selector.names ?? [], (i) => ['spec', 'selector', 'names', i], 'node name', report);
    checkLabelSelector(selector, ['spec', 'selector'], report);
  }
  if (spec.podSelector) {
    if (selector) report(['spec', 'podSelector'], 'can not be set together with spec.selector');
    checkLabelSelector(spec.podSelector, ['spec', 'podSelector'], report);
  }

  const completion = spec.completionPolicy;
  if (completion.type === 'Never') {
    if (completion.activeDeadlineSeconds !== undefined) {
      report(
        ['spec', 'completionPolicy', 'activeDeadlineSeconds'],
        'only works with completionPolicy type "Always"',
      );
    }
    if (completion.ttlSecondsAfterFinished !== undefined) {
      report(
        ['spec', 'completionPolicy', 'ttlSecondsAfterFinished'],
        'only works with completionPolicy type "Always"',
      );
    }
  } else if (completion.activeDeadlineSeconds !== undefined) {
    const timeout = spec.pullPolicy?.timeoutSeconds ?? DEFAULT_PULL_TIMEOUT_SECONDS;
    if (timeout > completion.activeDeadlineSeconds) {
      report(
        ['spec', 'completionPolicy', 'activeDeadlineSeconds'],
        `must be at least pullPolicy.timeoutSeconds (${timeout}), got ${completion.activeDeadlineSeconds}`,
      );
    }
  }
};

const MAX_IMAGES_PER_NODE = 256;

const checkNodeImage: Rule<NodeImage> = (nodeImage, report) => {
  const images = Object.keys(nodeImage.spec.images ?? {});
  if (images.length > MAX_IMAGES_PER_NODE) {
    report(
      ['spec', 'images'],
      `must not hold more than ${MAX_IMAGES_PER_NODE} images, got ${images.length}`,
    );
  }
};

const rules: { [K in KnownObject['kind']]?: Rule<Extract<KnownObject, { kind: K }>> } = {
  Device: checkDevice,
  DeviceModel: checkDeviceModel,
  EdgeApplication: checkEdgeApplication,
  ImagePullJob: checkImagePullJob,
  NodeImage: checkNodeImage,
};

/** Runs the rules for the object's kind (which must already match its schema). */
export function checkRules(object: KnownObject, report: Report): void {
  const rule = rules[object.kind] as Rule<KnownObject> | undefined;
  rule?.(object, report);
}
