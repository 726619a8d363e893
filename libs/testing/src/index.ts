/**
 * @packageDocumentation
 * Test helpers shared by the kubeedge-ts workspaces. Not published.
 *
 * ```ts
 * import { command, describeWithSystem } from '@ke/testing';
 *
 * describeWithSystem('kubectl drives the API server', [command('kubectl')], () => {
 *   it('lists nodes', async () => { ... });
 * });
 * ```
 */

export {
  type BuildBusyboxImageOptions,
  type BusyboxImage,
  buildBusyboxImage,
  defaultTestbedCacheDir,
} from './busybox-image';
export {
  type ContainerdTestbed,
  type ContainerdTestbedOptions,
  containerdPrerequisites,
  type ExecResult,
  removeStaleContainerdTestbeds,
  startContainerdTestbed,
} from './containerd';
export { createNatTestbed, type NatRole, type NatTestbed } from './nat-testbed';
export { createTestNamespace, type TestNamespace } from './netns';
export {
  callNetnsDriver,
  type NetnsDriver,
  type NetnsDriverCommands,
  serveNetnsDriver,
  startNetnsDriver,
} from './netns-driver';
export { startProcess, startSource, type TestProcess } from './process';
export { docExample, readmeExample, toCommonJs } from './readme';
export { describeReadmeExample } from './readme-suite';
export {
  command,
  decideSystem,
  networkNamespaces,
  rootUser,
  type SystemDecision,
  type SystemPrerequisite,
} from './system';
export { describeWithSystem } from './vitest';
export { freePort, waitFor } from './wait';
