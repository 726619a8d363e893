import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DataType,
  type Namespace,
  nodesets,
  OPCUACertificateManager,
  OPCUAServer,
  type UAVariable,
  Variant,
  VariantArrayType,
} from 'node-opcua';
import { fromOpcuaValue, type ScalarDataType, toOpcuaValue } from './codec';

/** A value of a simulated variable: a number, a bigint for 64-bit integers, a boolean or a string. */
export type TestValue = number | bigint | boolean | string;

/** One variable of the simulated device: its DataType and first value. */
export interface TestVariable {
  dataType: ScalarDataType;
  value: TestValue;
}

export interface OpcuaTestServerOptions {
  /** Port to listen on; default (or 0): a free port, picked at the first `start()` and kept after. */
  port?: number;
  /**
   * The variables, by name: each is the node `ns=1;s=<name>`. Default: `Temperature` (Double
   * 23.5), `Counter` (Int32 42), `Running` (Boolean true) and `Label` (String `boiler`).
   */
  variables?: Record<string, TestVariable>;
  /** When set, sessions must log in with this user name and password; anonymous ones are refused. */
  user?: { userName: string; password: string };
}

/** A simulated OPC UA device (node-opcua's `OPCUAServer`) on 127.0.0.1 with a few variables. */
export interface OpcuaTestServer {
  /** The port it listens on; 0 until the first `start()` when none was given. */
  readonly port: number;
  /** `opc.tcp://127.0.0.1:<port>`; the URL drivers connect to. */
  readonly url: string;
  /** The namespace index of the variables (1): their node IDs are `ns=1;s=<name>`. */
  readonly namespaceIndex: number;
  /** The node ID of a variable: `ns=1;s=<name>`. */
  nodeId(name: string): string;
  /** The value of a variable now, including what clients wrote. */
  get(name: string): TestValue;
  /** Changes a variable from the device's side; subscribed clients are notified. */
  set(name: string, value: TestValue): void;
  /** Open secure channels, sessions and subscriptions now (all 0 while stopped). */
  stats(): { channels: number; sessions: number; subscriptions: number };
  /** Listens (again, on the same port after a `stop()`); makes its certificate in a temporary folder. */
  start(): Promise<void>;
  /**
   * Closes the listener and every session, as a device switched off, and deletes the
   * temporary certificate folder; values are kept for the next `start()`.
   */
  stop(): Promise<void>;
  /**
   * Switches the device off and on: sessions are lost and clients must make new ones; the
   * port, the values and the server certificate stay.
   */
  restart(): Promise<void>;
}

const DEFAULT_VARIABLES: Record<string, TestVariable> = {
  Temperature: { dataType: 'Double', value: 23.5 },
  Counter: { dataType: 'Int32', value: 42 },
  Running: { dataType: 'Boolean', value: true },
  Label: { dataType: 'String', value: 'boiler' },
};

async function pickFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port of a probe listener'));
      });
    });
  });
}

/**
 * An OPC UA server for tests and demos. Its certificates live in a temporary folder made by
 * `start()` and deleted by `stop()`; it accepts every client certificate and
 * offers security mode None, Sign and SignAndEncrypt with policy None, Basic256Sha256,
 * Aes128_Sha256_RsaOaep and Aes256_Sha256_RsaPss.
 */
export function createOpcuaTestServer(options: OpcuaTestServerOptions = {}): OpcuaTestServer {
  const definitions = options.variables ?? DEFAULT_VARIABLES;
  /** Values while the server is down; the address space holds them while it is up. */
  const values = new Map<string, TestValue>(
    Object.entries(definitions).map(([name, v]) => [name, v.value]),
  );
  const variables = new Map<string, UAVariable>();
  let port = options.port ?? 0;
  let pkiDir: string | undefined;
  let server: OPCUAServer | undefined;
  let transition: Promise<void> = Promise.resolve();

  function definition(name: string): TestVariable {
    const found = definitions[name];
    if (!found) throw new Error(`the test server has no variable ${name}`);
    return found;
  }

  function current(name: string): TestValue {
    const { dataType } = definition(name);
    const variable = variables.get(name);
    if (!variable) return values.get(name) as TestValue;
    const raw = variable.readValue().value.value as unknown;
    return fromOpcuaValue(raw, dataType);
  }

  function addVariables(namespace: Namespace, objects: OPCUAServer['engine']['addressSpace']) {
    const folder = namespace.addObject({
      browseName: 'Device',
      organizedBy: objects?.rootFolder.objects,
    });
    for (const [name, { dataType }] of Object.entries(definitions)) {
      const variable = namespace.addVariable({
        componentOf: folder,
        browseName: name,
        nodeId: `s=${name}`,
        dataType,
        minimumSamplingInterval: 10,
        value: new Variant({
          dataType: DataType[dataType],
          arrayType: VariantArrayType.Scalar,
          value: toOpcuaValue(values.get(name) as TestValue, dataType),
        }),
      });
      variables.set(name, variable);
    }
  }

  async function startNow(): Promise<void> {
    if (server) return;
    if (port === 0) port = await pickFreePort();
    pkiDir ??= await mkdtemp(join(tmpdir(), 'ke-opcua-test-server-'));
    const user = options.user;
    const candidate = new OPCUAServer({
      port,
      hostname: '127.0.0.1',
      alternateHostname: [],
      disableDiscovery: true,
      nodeset_filename: [nodesets.standard],
      serverCertificateManager: new OPCUACertificateManager({
        rootFolder: join(pkiDir, 'server'),
        automaticallyAcceptUnknownCertificate: true,
      }),
      userCertificateManager: new OPCUACertificateManager({
        rootFolder: join(pkiDir, 'user'),
        automaticallyAcceptUnknownCertificate: true,
      }),
      allowAnonymous: !user,
      userManager: user
        ? {
            isValidUser: (name: string, password: string) =>
              name === user.userName && password === user.password,
          }
        : undefined,
      serverInfo: { applicationName: { text: 'ke-opcua-test-server' } },
    });
    try {
      await candidate.initialize();
    } catch (error) {
      await removePki();
      throw error;
    }
    const addressSpace = candidate.engine.addressSpace;
    if (!addressSpace) throw new Error('node-opcua did not build an address space');
    addVariables(addressSpace.getOwnNamespace(), addressSpace);
    try {
      await candidate.start();
    } catch (error) {
      variables.clear();
      await candidate.shutdown(0).catch(() => undefined);
      throw error;
    }
    server = candidate;
  }

  async function stopNow(): Promise<void> {
    const running = server;
    if (!running) return;
    for (const name of variables.keys()) values.set(name, current(name));
    variables.clear();
    server = undefined;
    await running.shutdown(0);
  }

  async function removePki(): Promise<void> {
    const dir = pkiDir;
    pkiDir = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
  }

  /** start/stop/restart run one after another, never interleaved. */
  function inTurn(step: () => Promise<void>): Promise<void> {
    const next = transition.then(step, step);
    transition = next.catch(() => undefined);
    return next;
  }

  return {
    get port() {
      return port;
    },
    get url() {
      return `opc.tcp://127.0.0.1:${port}`;
    },
    namespaceIndex: 1,
    nodeId: (name) => `ns=1;s=${name}`,
    get: (name) => current(name),
    set(name, value) {
      const { dataType } = definition(name);
      const variable = variables.get(name);
      if (!variable) {
        values.set(name, value);
        return;
      }
      variable.setValueFromSource(
        new Variant({
          dataType: DataType[dataType],
          arrayType: VariantArrayType.Scalar,
          value: toOpcuaValue(value, dataType),
        }),
      );
    },
    stats: () => ({
      channels: server?.currentChannelCount ?? 0,
      sessions: server?.currentSessionCount ?? 0,
      subscriptions: server?.currentSubscriptionCount ?? 0,
    }),
    start: () => inTurn(startNow),
    stop: () =>
      inTurn(async () => {
        try {
          await stopNow();
        } finally {
          await removePki();
        }
      }),
    restart: () =>
      inTurn(async () => {
        await stopNow();
        await startNow();
      }),
  };
}
