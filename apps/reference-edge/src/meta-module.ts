import { join } from 'node:path';
import { type ApiServer, createSqliteStore, type Store } from '@ke/apiserver';
import type { Router } from '@ke/beehive';
import type { Logger } from '@ke/daemon';
import { createMetaManager, createMetaServer, type MetaManager } from '@ke/metamanager';
import { hostPort } from './addresses';
import type { EdgeConfig } from './config';

export interface MetaModule {
  readonly store: Store;
  readonly meta: MetaManager;
  readonly databasePath: string;
  readonly metaServerUrl: string | undefined;
  stop(): Promise<void>;
}

/**
 * MetaManager and the MetaServer as ke-edge runs them: the SQLite store at
 * `database.dataSource` (default `<dataDir>/edgecore.db`), the module on the router, and the
 * Kubernetes API over the store on `metaServer.server` (127.0.0.1:10550).
 */
export async function startMetaModule(options: {
  config: EdgeConfig;
  dataDir: string;
  router: Router;
  logger: Logger;
}): Promise<MetaModule> {
  const { config, router, logger } = options;
  const databasePath = config.database.dataSource || join(options.dataDir, 'edgecore.db');
  const store: Store = createSqliteStore({ path: databasePath, logger });
  let meta: MetaManager | undefined;
  let server: ApiServer | undefined;
  try {
    meta = createMetaManager({ store, router, logger: logger.child({ module: 'metamanager' }) });
    await meta.start();
    const metaServer = config.modules.metaManager.metaServer;
    if (metaServer.enable) {
      server = createMetaServer({
        store,
        router,
        ...hostPort(metaServer.server),
        logger: logger.child({ module: 'metaserver' }),
      });
      await server.start();
    }
  } catch (error) {
    await meta?.stop();
    store.close();
    throw error;
  }
  return {
    store,
    meta,
    databasePath,
    metaServerUrl: server?.url,
    async stop() {
      await server?.stop();
      await meta?.stop();
      store.close();
    },
  };
}
