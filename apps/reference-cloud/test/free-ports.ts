/** Flags that put every listener of ke-cloud on a free port, so tests never collide. */
export const FREE_PORT_FLAGS = [
  '--embeddedAPIServer.port',
  '0',
  '--modules.cloudHub.websocket.port',
  '0',
  '--modules.cloudHub.https.port',
  '0',
  '--commonConfig.monitorServer.bindAddress',
  '127.0.0.1:0',
] as const;
