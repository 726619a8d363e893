import { hostname } from 'node:os';
import { section } from '@ke/daemon';
import { type Static, Type } from '@sinclair/typebox';

const enable = (what: string, on = true) =>
  Type.Boolean({ default: on, description: `run ${what}` });

/** KubeEdge's default: the host name, lower-cased so it is a valid node name. */
const defaultNodeName = hostname().toLowerCase();

/**
 * ke-edge's configuration, shaped like KubeEdge's edgecore.yaml
 * (`edgecore.config.kubeedge.io/v1alpha2`). Every field is also a `--dotted.path` flag.
 */
export const EdgeConfigSchema = section({
  apiVersion: Type.Literal('edgecore.config.kubeedge.io/v1alpha2', {
    default: 'edgecore.config.kubeedge.io/v1alpha2',
    description: 'config format version',
  }),
  kind: Type.Literal('EdgeCore', { default: 'EdgeCore', description: 'config kind' }),
  dataDir: Type.String({
    default: '.ke/edge',
    minLength: 1,
    description: 'directory for the node certificate and the metadata database',
  }),
  logLevel: Type.Union(
    ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info', description: 'log level' },
  ),
  database: section({
    dataSource: Type.String({
      default: '',
      description: 'SQLite file of the metadata store; empty means <dataDir>/edgecore.db',
    }),
  }),
  modules: section({
    edgeHub: section({
      enable: enable('EdgeHub, the link to the cloud'),
      heartbeat: Type.Integer({ default: 15, minimum: 1, description: 'seconds between pings' }),
      projectID: Type.String({
        default: 'e632aba927ea4ac2b575ec1603d56f10',
        description: 'sent as the project_id header',
      }),
      token: Type.String({
        default: '',
        description: 'bootstrap token from `ke-cloud token create` (first start only)',
      }),
      httpServer: Type.String({
        default: 'https://127.0.0.1:10002',
        description: "cloud's certificate server",
      }),
      websocket: section({
        server: Type.String({ default: '127.0.0.1:10000', description: "cloud hub's host:port" }),
        handshakeTimeout: Type.Integer({ default: 30, minimum: 1, description: 'seconds' }),
      }),
    }),
    edged: section({
      enable: enable('Edged, the pod runtime'),
      hostnameOverride: Type.String({
        default: defaultNodeName,
        minLength: 1,
        maxLength: 253,
        pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
        description: 'node name (a DNS subdomain)',
      }),
      nodeStatusUpdateFrequency: Type.Integer({
        default: 10,
        minimum: 1,
        description: 'seconds between node status reports to the cloud',
      }),
      nodeLabels: Type.Record(Type.String(), Type.String(), {
        default: {},
        description: 'labels of the Node object',
      }),
      clusterDNS: Type.String({
        default: '',
        description:
          'nameservers (comma-separated) for pods with dnsPolicy ClusterFirst, e.g. EdgeMesh DNS; empty: the host resolv.conf',
      }),
      clusterDomain: Type.String({ default: 'cluster.local', description: 'cluster DNS domain' }),
      containerRuntimeEndpoint: Type.String({
        default: '',
        description:
          'CRI endpoint such as unix:///run/containerd/containerd.sock; empty runs the simulated runtime',
      }),
    }),
    metaManager: section({
      enable: enable('MetaManager, the local metadata store'),
      metaServer: section({
        enable: enable('the MetaServer, a Kubernetes API for local clients'),
        server: Type.String({ default: '127.0.0.1:10550', description: 'MetaServer host:port' }),
      }),
    }),
    eventBus: section({
      enable: enable('EventBus, the MQTT bridge for devices'),
      mqttMode: Type.Union([Type.Literal('internal'), Type.Literal('external')], {
        default: 'internal',
        description: 'internal: embedded broker; external: the broker at mqttServerExternal',
      }),
      mqttServerInternal: Type.String({
        default: 'tcp://127.0.0.1:1883',
        description: 'listen address of the embedded broker (tcp://host:port)',
      }),
      mqttServerExternal: Type.String({
        default: 'tcp://127.0.0.1:1883',
        description: 'external broker URL',
      }),
    }),
    deviceTwin: section({
      enable: enable('DeviceTwin, device state and twins'),
      dmiSockPath: Type.String({
        default: '',
        description:
          'unix socket mappers register on (KubeEdge: /etc/kubeedge/dmi.sock); empty means <dataDir>/dmi.sock',
      }),
      reportCycle: Type.Integer({
        default: 1000,
        minimum: 1,
        description: 'ms between reports to the cloud of a property that sets no reportCycle',
      }),
    }),
    edgeMesh: section({
      enable: enable(
        'EdgeMesh: cluster DNS and the service proxy (changes the nat table; needs root)',
        false,
      ),
      dns: section({
        enable: enable('the cluster DNS server'),
        listen: Type.String({
          default: '127.0.0.1:53',
          description:
            'host:port the DNS server answers on, UDP and TCP (EdgeMesh uses 169.254.96.16:53); port 0 picks a free one',
        }),
        upstream: Type.String({
          default: '',
          description:
            'resolvers (comma-separated) for names outside the cluster; empty: the nameservers of /etc/resolv.conf',
        }),
      }),
      proxy: section({
        enable: enable('the service proxy'),
        mode: Type.Union(
          [Type.Literal('auto'), Type.Literal('userspace'), Type.Literal('kernel')],
          {
            default: 'auto',
            description:
              'auto: kernel DNAT to endpoints it can reach directly, userspace otherwise; a Service annotation overrides it',
          },
        ),
        loadBalancing: Type.Union(
          [Type.Literal('round-robin'), Type.Literal('random'), Type.Literal('source-hash')],
          { default: 'round-robin', description: 'endpoint choice of the userspace path' },
        ),
        reachableCIDRs: Type.String({
          default: '',
          description:
            'IPv4 CIDRs (comma-separated) whose endpoints are reachable from this node wherever they run',
        }),
        iptables: Type.Boolean({
          default: true,
          description:
            'install nat rules for ClusterIPs; false: userspace listeners only (no root needed)',
        }),
      }),
      tunnel: section({
        enable: enable(
          'the tunnel to endpoints on other nodes (hole-punched UDP, relay fallback)',
          false,
        ),
        servers: Type.String({
          default: '',
          description:
            "tunnel servers (comma-separated host:port, TLS control and UDP on that port; ke-cloud's modules.tunnelServer), tried in order",
        }),
        punch: Type.Boolean({
          default: true,
          description: 'try peer-to-peer paths; false: every stream goes through the relay',
        }),
      }),
    }),
    serviceBus: section({
      enable: enable('ServiceBus, cloud to local HTTP', false),
      port: Type.Integer({ default: 9060, minimum: 0, maximum: 65535, description: 'port' }),
    }),
  }),
});

export type EdgeConfig = Static<typeof EdgeConfigSchema>;
