import { crdFor, resources } from '@ke/apis';
import { isKubeError, type KubeConfig, KubeErrorCode, toKubeError } from '@ke/kube';
import { ApiextensionsV1Api, type V1CustomResourceDefinition } from '@kubernetes/client-node';

/**
 * Creates (or updates to this build's schema) the CRDs of `@ke/apis`: Device, DeviceModel,
 * NodeGroup, EdgeApplication, ImagePullJob, NodeImage, ObjectSync, ClusterObjectSync.
 * ke-cloud does this for its embedded API server; on a real cluster `kubectl apply -f
 * libs/apis/crds` does it (as `keadm init` does for KubeEdge).
 */
export async function installCrds(kubeConfig: KubeConfig): Promise<string[]> {
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const names: string[] = [];
  for (const resource of resources) {
    const body = crdFor(resource) as unknown as V1CustomResourceDefinition;
    const name = body.metadata?.name ?? '';
    try {
      await api.createCustomResourceDefinition({ body });
    } catch (error) {
      const kubeError = toKubeError(error, `create CRD ${name}`);
      if (!isKubeError(kubeError) || kubeError.code !== KubeErrorCode.AlreadyExists)
        throw kubeError;
      const current = await api.readCustomResourceDefinition({ name });
      await api.replaceCustomResourceDefinition({
        name,
        body: {
          ...body,
          metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion },
        },
      });
    }
    names.push(name);
  }
  return names;
}
