import { createMessage, type Message, Operation } from '@ke/beehive';

/**
 * What edgecontroller dispatches for a change to a ConfigMap owned by `node`: the cloud-form
 * resource, the object as content and its resourceVersion in the header.
 */
export function configMapChange(options: {
  node: string;
  name: string;
  uid: string;
  resourceVersion?: string;
  operation?: string;
  namespace?: string;
}): Message {
  const namespace = options.namespace ?? 'default';
  return createMessage({
    source: 'edgecontroller',
    group: 'resource',
    operation: options.operation ?? Operation.Update,
    resource: `node/${options.node}/${namespace}/configmap/${options.name}`,
    ...(options.resourceVersion === undefined ? {} : { resourceVersion: options.resourceVersion }),
    content: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: options.name,
        namespace,
        uid: options.uid,
        ...(options.resourceVersion === undefined
          ? {}
          : { resourceVersion: options.resourceVersion }),
      },
      data: { version: options.resourceVersion ?? '' },
    },
  });
}
