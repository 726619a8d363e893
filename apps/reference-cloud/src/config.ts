import { section } from '@ke/daemon';
import { type Static, Type } from '@sinclair/typebox';

const enable = (what: string, on = true) =>
  Type.Boolean({ default: on, description: `run ${what}` });

/**
 * ke-cloud's configuration, shaped like KubeEdge's cloudcore.yaml
 * (`cloudcore.config.kubeedge.io/v1alpha2`). Every field is also a `--dotted.path` flag.
 */
/** The tunnel server's settings: ke-cloud's `modules.tunnelServer` and `ke-tunnel-server`. */
export const tunnelServerFields = {
  address: Type.String({ default: '0.0.0.0', description: 'listen address, TCP and UDP' }),
  port: Type.Integer({
    default: 10004,
    minimum: 0,
    maximum: 65535,
    description:
      'TLS control and relay legs (TCP), probes (UDP); agents use advertiseAddress:port; 0 picks a free one',
  }),
  streamsPerAgent: Type.Integer({
    default: 1024,
    minimum: 1,
    description: 'most relayed streams one node may have open',
  }),
  relayBytesPerSecondPerAgent: Type.Integer({
    default: 0,
    minimum: 0,
    description: 'relayed bytes per second one node may send; 0: no limit',
  }),
};

export const CloudConfigSchema = section({
  apiVersion: Type.Literal('cloudcore.config.kubeedge.io/v1alpha2', {
    default: 'cloudcore.config.kubeedge.io/v1alpha2',
    description: 'config format version',
  }),
  kind: Type.Literal('CloudCore', { default: 'CloudCore', description: 'config kind' }),
  dataDir: Type.String({
    default: '.ke/cloud',
    minLength: 1,
    description: 'directory for the CA, the embedded API server database and kubeconfigs',
  }),
  logLevel: Type.Union(
    ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info', description: 'log level' },
  ),
  commonConfig: section({
    monitorServer: section({
      bindAddress: Type.String({
        default: '127.0.0.1:9091',
        description: 'host:port of /metrics and /healthz (port 0 picks a free one)',
      }),
    }),
  }),
  kubeAPIConfig: section({
    kubeConfig: Type.String({
      default: '',
      description: 'kubeconfig of a Kubernetes cluster; empty runs the embedded API server',
    }),
    master: Type.String({ default: '', description: 'API server URL, overrides the kubeconfig' }),
    qps: Type.Number({ default: 100, minimum: 1, description: 'client requests per second' }),
    burst: Type.Integer({ default: 200, minimum: 1, description: 'client request burst' }),
  }),
  embeddedAPIServer: section({
    address: Type.String({
      default: '127.0.0.1',
      description: 'listen address of the embedded API server (used when kubeConfig is empty)',
    }),
    port: Type.Integer({
      default: 6443,
      minimum: 0,
      maximum: 65535,
      description: 'HTTPS port of the embedded API server; 0 picks a free one',
    }),
    serviceClusterIPRange: Type.String({
      default: '10.96.0.0/12',
      pattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$',
      description:
        'IPv4 CIDR Services get their cluster IP from, as kube-apiserver --service-cluster-ip-range',
    }),
  }),
  controllers: section({
    endpointSlice: section({
      enable: enable(
        'the EndpointSlice controller (Services to pod endpoints; embedded API server only)',
      ),
    }),
  }),
  modules: section({
    cloudHub: section({
      enable: enable('CloudHub, the WebSocket endpoint of edge nodes'),
      advertiseAddress: Type.Array(Type.String(), {
        default: ['127.0.0.1'],
        description: 'addresses put in the server certificate and given to edge nodes',
      }),
      nodeLimit: Type.Integer({ default: 1000, minimum: 1, description: 'most edge nodes' }),
      keepaliveInterval: Type.Integer({
        default: 30,
        minimum: 1,
        description: 'seconds of silence after which a node counts as disconnected',
      }),
      nodeQueueLimit: Type.Integer({
        default: 10000,
        minimum: 1,
        description: 'most messages queued for one node',
      }),
      tokenRefreshDuration: Type.Integer({
        default: 12,
        minimum: 1,
        description: 'hours between bootstrap token rotations',
      }),
      websocket: section({
        address: Type.String({ default: '0.0.0.0', description: 'WebSocket listen address' }),
        port: Type.Integer({ default: 10000, minimum: 0, maximum: 65535, description: 'port' }),
        maxFrameBytes: Type.Integer({
          default: 8388608,
          minimum: 1024,
          description: 'largest frame accepted from a node; a larger one closes its connection',
        }),
      }),
      https: section({
        address: Type.String({ default: '0.0.0.0', description: 'certificate server address' }),
        port: Type.Integer({ default: 10002, minimum: 0, maximum: 65535, description: 'port' }),
      }),
    }),
    edgeController: section({
      enable: enable('EdgeController: pods, configmaps, secrets, services to edge nodes'),
      nodeUpdateFrequency: Type.Integer({
        default: 10,
        minimum: 1,
        description: 'seconds between expected node status updates',
      }),
      nodeMonitorGracePeriod: Type.Integer({
        default: 40,
        minimum: 1,
        description: 'seconds without node status after which a node turns Ready=Unknown',
      }),
    }),
    deviceController: section({ enable: enable('DeviceController: devices and twins') }),
    nodeGroupController: section({ enable: enable('NodeGroup and EdgeApplication controllers') }),
    imagePrePullController: section({ enable: enable('ImagePullJob controller') }),
    tunnelServer: section({
      enable: enable(
        "EdgeMesh's tunnel server: hole-punching rendezvous and relay for edge nodes",
        false,
      ),
      ...tunnelServerFields,
    }),
  }),
});

export type CloudConfig = Static<typeof CloudConfigSchema>;
