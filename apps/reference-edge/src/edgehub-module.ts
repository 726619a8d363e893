import { join } from 'node:path';
import {
  createResponse,
  Group,
  type Message,
  ModuleName,
  Operation,
  type Router,
} from '@ke/beehive';
import type { Logger } from '@ke/daemon';
import { bootstrapNodeCertificate, createEdgeHub, type EdgeHub } from '@ke/edgehub';
import type { EdgeConfig } from './config';

/** The local module that handles each downstream group, as KubeEdge's edgehub dispatches. */
const MODULE_OF_GROUP: Readonly<Record<string, string>> = {
  [Group.Resource]: ModuleName.MetaManager,
  [Group.Func]: ModuleName.MetaManager,
  [Group.Twin]: ModuleName.DeviceTwin,
  [Group.User]: ModuleName.ServiceBus,
};

/** Resource types the device twin stores rather than the metadata store. */
const DEVICE_TYPES = new Set(['device', 'devicemodel']);

/** The local module for a downstream message: by group, devices and models to the twin. */
function moduleOf(message: Message): string | undefined {
  const { group, resource } = message.route;
  if (group === Group.Resource && DEVICE_TYPES.has(resource.split('/')[1] ?? '')) {
    return ModuleName.DeviceTwin;
  }
  return MODULE_OF_GROUP[group ?? ''];
}

/**
 * EdgeHub as ke-edge runs it: the node certificate from `<dataDir>/certs` (joined with the
 * token on first start, renewed with the current certificate near expiry), and every
 * downstream message handed to the local module of its group through the router. The ACK to
 * the cloud waits for that module's reply, which it sends once the change is persisted; with
 * no module for the group the message stays unacknowledged and the cloud keeps it queued.
 */
export function createEdgeHubModule(options: {
  config: EdgeConfig['modules']['edgeHub'];
  nodeName: string;
  dataDir: string;
  router: Router;
  logger: Logger;
}): { hub: EdgeHub; certDir: string } {
  const { config, nodeName, router, logger } = options;
  const certDir = join(options.dataDir, 'certs');
  let reportedRenewal: string | undefined;
  const hub = createEdgeHub({
    server: config.websocket.server,
    nodeName,
    projectId: config.projectID,
    heartbeatIntervalMs: config.heartbeat * 1000,
    handshakeTimeoutMs: config.websocket.handshakeTimeout * 1000,
    logger: logger.child({ module: 'edgehub' }),
    identity: async () => {
      const identity = await bootstrapNodeCertificate({
        httpServer: config.httpServer,
        nodeName,
        token: config.token || undefined,
        certDir,
      });
      if (identity.source !== 'disk') {
        logger.info({ certDir, source: identity.source }, 'node certificate obtained');
      }
      if (identity.renewalError && identity.renewalError.message !== reportedRenewal) {
        reportedRenewal = identity.renewalError.message;
        logger.warn({ err: identity.renewalError }, 'certificate renewal failed; will retry');
      }
      return identity;
    },
    handler: async (message: Message) => {
      const module = moduleOf(message);
      if (!module) {
        logger.warn(
          { group: message.route.group, resource: message.route.resource },
          'no edge module handles this group; message ignored',
        );
        return;
      }
      // Rejects when the module is missing or times out: no ACK, the cloud sends it again.
      const reply = await router.sendSync(module, message, { timeoutMs: 30_000 });
      if (reply.route.operation === Operation.Error) {
        const failure = reply.content as { code?: string; message?: string; retryable?: boolean };
        if (failure?.retryable) {
          throw new Error(`${module}: ${failure.code}: ${failure.message}`);
        }
        // Never storable (malformed): the cloud gets an error response and stops resending it.
        throw Object.assign(new Error(`${module}: ${failure?.message ?? 'refused'}`), {
          code: failure?.code ?? 'KE_EDGE_REFUSED',
          retryable: false,
        });
      }
    },
  });
  // The local side: what modules send to `edgehub` goes to the cloud, requests wait for replies.
  router.register({
    name: ModuleName.EdgeHub,
    group: Group.Hub,
    concurrency: 16,
    handler: async (message) => {
      if (!message.header.sync) {
        hub.send(message);
        return;
      }
      try {
        router.sendResponse(await hub.request(message));
      } catch (error) {
        router.sendResponse(
          createResponse(message, {
            source: ModuleName.EdgeHub,
            operation: Operation.Error,
            content: (error as Error).message,
          }),
        );
      }
    },
  });
  return { hub, certDir };
}
