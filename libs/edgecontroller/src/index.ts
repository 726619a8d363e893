/**
 * @packageDocumentation
 * KubeEdge's EdgeController: the API's pods, ConfigMaps, Secrets, Services and Endpoints to
 * edge nodes through cloudhub; their registration, status and leases back to the API.
 */
export {
  createEdgeController,
  EDGE_NODE_LABEL,
  type EdgeController,
  type EdgeControllerLogger,
  type EdgeControllerOptions,
} from './edge-controller';
export { referencesOf } from './references';
