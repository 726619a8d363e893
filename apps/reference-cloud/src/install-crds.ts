import { crdFor, type ResourceDefinition, resources } from '@ke/apis';
import { createCrdClient, isKubeError, type KubeConfig, KubeErrorCode } from '@ke/kube';
import type { KubernetesObject } from '@kubernetes/client-node';

/**
 * CustomResourceDefinitions as plain JSON. client-node's typed ApiextensionsV1Api would
 * serialize through its model classes, which drop keys such as
 * `x-kubernetes-preserve-unknown-fields` given in their wire spelling (and with them a device's
 * free-form `configData`).
 */
const CRDS = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  listKind: 'CustomResourceDefinitionList',
  plural: 'customresourcedefinitions',
  singular: 'customresourcedefinition',
  shortNames: ['crd'],
  scope: 'Cluster',
} as unknown as ResourceDefinition;

/**
 * Creates (or updates to this build's schema) the CRDs of `@ke/apis`: Device, DeviceModel,
 * NodeGroup, EdgeApplication, ImagePullJob, NodeImage, ObjectSync, ClusterObjectSync.
 * ke-cloud does this for its embedded API server; on a real cluster `kubectl apply -f
 * libs/apis/crds` does it (as `keadm init` does for KubeEdge).
 */
export async function installCrds(kubeConfig: KubeConfig): Promise<string[]> {
  const client = createCrdClient<KubernetesObject>(kubeConfig, CRDS);
  const names: string[] = [];
  for (const resource of resources) {
    const body = crdFor(resource) as unknown as KubernetesObject;
    const name = body.metadata?.name ?? '';
    try {
      await client.create(body);
    } catch (error) {
      if (!isKubeError(error) || error.code !== KubeErrorCode.AlreadyExists) throw error;
      const current = await client.get(undefined, name);
      await client.replace({
        ...body,
        metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion },
      });
    }
    names.push(name);
  }
  return names;
}
