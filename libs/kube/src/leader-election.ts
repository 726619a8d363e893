import type { KubeConfig } from '@kubernetes/client-node';
import { sleep } from './backoff';
import { isKubeError, KubeError, KubeErrorCode } from './errors';
import { requestJson } from './http-request';
import { consoleLogger, type Logger } from './logger';

/** Options of {@link createLeaderElector}. Durations as client-go's `LeaderElectionConfig`. */
export interface LeaderElectorOptions {
  /** Where the API server is and how to authenticate (see `loadKubeConfig`). */
  kubeConfig: KubeConfig;
  /** Namespace of the Lease. */
  namespace: string;
  /** Name of the Lease every candidate for this leadership uses. */
  name: string;
  /** This candidate, unique among them (e.g. pod name + a random suffix). */
  identity: string;
  /**
   * How long a lease is honoured after its holder last renewed it, as seen by the others.
   * Default 15 s.
   */
  leaseDurationMs?: number;
  /**
   * The leader gives up when it could not renew for this long (since its last successful
   * renewal). Shorter than `leaseDurationMs`. Default 10 s.
   */
  renewDeadlineMs?: number;
  /** Interval of attempts to acquire and to renew. Default 2 s. */
  retryPeriodMs?: number;
  /**
   * When `run`'s signal aborts, empty the lease's `holderIdentity` so that another candidate
   * takes over at once instead of after `leaseDurationMs`. Only safe if the work guarded by the
   * lease has stopped: `run` waits for `onStartedLeading` to settle first. Default false.
   */
  releaseOnCancel?: boolean;
  /**
   * Called when this candidate becomes the leader. `signal` aborts when leadership ends
   * (renewal failed, or `run` was stopped); the work must stop then. May return a promise,
   * which `run` awaits before it resolves or campaigns again.
   */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Called when this candidate stops being the leader (never called if it never led). */
  onStoppedLeading: () => void;
  /** Called with the holder's identity whenever a different holder is observed (this one too). */
  onNewLeader?: (identity: string) => void;
  /** Default: console (warnings and errors). */
  logger?: Logger;
}

export interface LeaderElector {
  /**
   * Campaigns for the lease and, once it holds it, renews it every `retryPeriodMs`. When
   * leadership is lost it campaigns again. Resolves when `signal` aborts, after the leader's
   * work has settled and (with `releaseOnCancel`) the lease was released.
   */
  run(signal: AbortSignal): Promise<void>;
  /** Whether this candidate is leading now. */
  isLeader(): boolean;
  /** Holder of the lease as last observed ('' if unknown or released). */
  leader(): string;
}

/** `coordination.k8s.io/v1` LeaseSpec as client-go writes it. */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** MicroTime: `2026-11-29T10:00:00.000000Z`. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string; [field: string]: unknown };
  spec?: LeaseSpec;
}

/** client-go's `JitterFactor` for the acquire loop. */
const JITTER_FACTOR = 1.2;

/** A timestamp in Kubernetes' MicroTime format: RFC 3339 with six fractional digits, UTC. */
export function microTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function invalidArgument(message: string): KubeError {
  return new KubeError(KubeErrorCode.InvalidArgument, message, { reason: message });
}

/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics: a candidate
 * takes the lease when it is free, expired (not renewed for `leaseDurationMs` as observed
 * locally) or released; every write carries the resourceVersion it read, so two candidates
 * never both win; the leader renews every `retryPeriodMs` and steps down when it could not
 * renew for `renewDeadlineMs`.
 *
 * @example
 * ```ts
 * const elector = createLeaderElector({
 *   kubeConfig, namespace: 'kubeedge', name: 'cloudcore', identity: `${hostname()}-${pid}`,
 *   releaseOnCancel: true,
 *   onStartedLeading: (signal) => runControllers(signal),
 *   onStoppedLeading: () => logger.info({}, 'no longer leading'),
 * });
 * await elector.run(shutdown.signal);
 * ```
 */
export function createLeaderElector(options: LeaderElectorOptions): LeaderElector {
  const {
    kubeConfig: kc,
    namespace,
    name,
    identity,
    leaseDurationMs = 15_000,
    renewDeadlineMs = 10_000,
    retryPeriodMs = 2_000,
    releaseOnCancel = false,
  } = options;
  if (!kc || typeof kc.getCurrentCluster !== 'function') {
    throw invalidArgument('createLeaderElector: kubeConfig is required (see loadKubeConfig)');
  }
  for (const [field, value] of Object.entries({ namespace, name, identity })) {
    if (typeof value !== 'string' || value === '') {
      throw invalidArgument(`createLeaderElector: ${field} is required`);
    }
  }
  if (typeof options.onStartedLeading !== 'function') {
    throw invalidArgument('createLeaderElector: onStartedLeading is required');
  }
  if (typeof options.onStoppedLeading !== 'function') {
    throw invalidArgument('createLeaderElector: onStoppedLeading is required');
  }
  if (!(retryPeriodMs > 0)) {
    throw invalidArgument(`createLeaderElector: retryPeriodMs must be > 0, got ${retryPeriodMs}`);
  }
  if (!(leaseDurationMs > renewDeadlineMs)) {
    throw invalidArgument(
      `createLeaderElector: leaseDurationMs (${leaseDurationMs}) must be greater than renewDeadlineMs (${renewDeadlineMs})`,
    );
  }
  if (!(renewDeadlineMs > JITTER_FACTOR * retryPeriodMs)) {
    throw invalidArgument(
      `createLeaderElector: renewDeadlineMs (${renewDeadlineMs}) must be greater than ${JITTER_FACTOR} × retryPeriodMs (${retryPeriodMs})`,
    );
  }
  const logger = options.logger ?? consoleLogger;
  const leaseDurationSeconds = Math.max(1, Math.floor(leaseDurationMs / 1000));
  const collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  const leasePath = `${collection}/${encodeURIComponent(name)}`;
  const now = () => performance.now();

  const log = (level: keyof Logger, fields: Record<string, unknown>, message: string) => {
    try {
      logger[level]?.call(logger, { lease: `${namespace}/${name}`, identity, ...fields }, message);
    } catch {
      // A broken logger must not stop the election.
    }
  };

  const call = (what: string, callback: () => void) => {
    try {
      callback();
    } catch (err) {
      log('error', { err }, `${what} threw`);
    }
  };

  /** The lease as last read or written. */
  let observed: Lease | undefined;
  /** Its spec as JSON, to notice changes. */
  let observedSpec = '';
  /** When (monotonic ms) the spec last changed as seen from here: the lease's clock, skew-free. */
  let observedAt = 0;
  let reportedLeader = '';
  let leading = false;
  let running = false;

  const holderOf = (lease: Lease | undefined) => lease?.spec?.holderIdentity ?? '';

  const observe = (lease: Lease, written: boolean) => {
    const spec = JSON.stringify(lease.spec ?? {});
    if (written || spec !== observedSpec) {
      observedSpec = spec;
      observedAt = now();
    }
    observed = lease;
    const holder = holderOf(lease);
    if (holder !== reportedLeader) {
      reportedLeader = holder;
      if (holder !== '' && options.onNewLeader) {
        const onNewLeader = options.onNewLeader;
        call('onNewLeader', () => onNewLeader(holder));
      }
    }
  };

  const leaseValid = () => observedAt + leaseDurationMs > now();

  const write = async (
    method: 'POST' | 'PUT',
    lease: Lease,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<Lease> => {
    const result = await requestJson<Lease>(kc, {
      method,
      path: method === 'POST' ? collection : leasePath,
      body: lease,
      ...(signal ? { signal } : {}),
      timeoutMs,
      operation: `${method === 'POST' ? 'create' : 'update'} lease ${namespace}/${name}`,
    });
    observe(result, true);
    return result;
  };

  const leaseWith = (base: Lease | undefined, spec: LeaseSpec): Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: base ? { ...base.metadata } : { name, namespace },
    spec,
  });

  /**
   * client-go's `tryAcquireOrRenew`: true when this candidate holds the lease now. Gives up
   * at `deadline` (monotonic ms), however many requests it takes.
   */
  async function tryAcquireOrRenew(signal: AbortSignal, deadline: number): Promise<boolean> {
    const timeoutMs = () => Math.max(1, deadline - now());
    const stamp = microTime();
    const desired: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: stamp,
      renewTime: stamp,
      leaseTransitions: 0,
    };
    // Fast path: the leader renews the lease it last wrote, without reading it first.
    if (leading && observed && holderOf(observed) === identity && leaseValid()) {
      try {
        await write(
          'PUT',
          leaseWith(observed, {
            ...desired,
            acquireTime: observed.spec?.acquireTime ?? stamp,
            leaseTransitions: observed.spec?.leaseTransitions ?? 0,
          }),
          signal,
          timeoutMs(),
        );
        return true;
      } catch (err) {
        if (signal.aborted || now() >= deadline) return false;
        log('debug', { err }, 'fast renewal failed; reading the lease');
      }
    }
    let lease: Lease;
    try {
      lease = await requestJson<Lease>(kc, {
        path: leasePath,
        signal,
        timeoutMs: timeoutMs(),
        operation: `get lease ${namespace}/${name}`,
      });
    } catch (err) {
      if (signal.aborted) return false;
      if (!isKubeError(err, KubeErrorCode.NotFound)) {
        log('warn', { err }, 'cannot read the lease');
        return false;
      }
      try {
        await write('POST', leaseWith(undefined, desired), signal, timeoutMs());
        return true;
      } catch (createError) {
        if (!signal.aborted) log('debug', { err: createError }, 'cannot create the lease');
        return false;
      }
    }
    observe(lease, false);
    const holder = holderOf(lease);
    if (holder !== '' && holder !== identity && leaseValid()) return false;
    const spec: LeaseSpec =
      holder === identity
        ? {
            ...desired,
            acquireTime: lease.spec?.acquireTime ?? stamp,
            leaseTransitions: lease.spec?.leaseTransitions ?? 0,
          }
        : { ...desired, leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 };
    try {
      await write('PUT', leaseWith(lease, spec), signal, timeoutMs());
      return true;
    } catch (err) {
      if (!signal.aborted) {
        log(
          isKubeError(err, KubeErrorCode.Conflict) ? 'debug' : 'warn',
          { err },
          'cannot update the lease',
        );
      }
      return false;
    }
  }

  /** Tries until the lease is ours (true) or `signal` aborts (false). */
  async function acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      if (await tryAcquireOrRenew(signal, now() + renewDeadlineMs)) return true;
      if (signal.aborted) break;
      await sleep(retryPeriodMs * (1 + Math.random() * JITTER_FACTOR), signal);
    }
    return false;
  }

  /** Renews every retry period; returns when a renewal failed past the deadline, or on abort. */
  async function renewLoop(signal: AbortSignal): Promise<'lost' | 'stopped'> {
    let renewedAt = now();
    while (!signal.aborted) {
      await sleep(retryPeriodMs, signal);
      let renewed = false;
      while (!signal.aborted) {
        const deadline = renewedAt + renewDeadlineMs;
        if (now() >= deadline) break;
        const attemptAt = now();
        if (await tryAcquireOrRenew(signal, deadline)) {
          renewed = true;
          renewedAt = attemptAt;
          break;
        }
        // Someone else holds it: no retry can make this candidate the leader again in time.
        if (observed && holderOf(observed) !== identity && holderOf(observed) !== '') break;
        const wait = Math.min(retryPeriodMs, renewedAt + renewDeadlineMs - now());
        if (wait > 0) await sleep(wait, signal);
      }
      if (signal.aborted) return 'stopped';
      if (!renewed) return 'lost';
    }
    return 'stopped';
  }

  /** client-go's `release`: empty holder, so the next candidate need not wait for expiry. */
  async function release(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      if (!observed || holderOf(observed) !== identity) return;
      const stamp = microTime();
      try {
        await write(
          'PUT',
          leaseWith(observed, {
            holderIdentity: '',
            leaseDurationSeconds: 1,
            acquireTime: stamp,
            renewTime: stamp,
            leaseTransitions: observed.spec?.leaseTransitions ?? 0,
          }),
          undefined,
          renewDeadlineMs,
        );
        log('info', {}, 'released the lease');
        return;
      } catch (err) {
        if (!isKubeError(err, KubeErrorCode.Conflict)) {
          log('warn', { err }, 'cannot release the lease; it expires by itself');
          return;
        }
      }
      // Conflict: a renewal in flight at the abort may have landed; read, and release if still ours.
      try {
        observe(
          await requestJson<Lease>(kc, {
            path: leasePath,
            timeoutMs: renewDeadlineMs,
            operation: `get lease ${namespace}/${name}`,
          }),
          false,
        );
      } catch (err) {
        log('warn', { err }, 'cannot release the lease; it expires by itself');
        return;
      }
    }
  }

  async function lead(signal: AbortSignal): Promise<void> {
    leading = true;
    log('info', {}, 'became the leader');
    const term = new AbortController();
    let work: Promise<unknown> = Promise.resolve();
    try {
      work = Promise.resolve(options.onStartedLeading(term.signal)).catch((err) =>
        log('error', { err }, 'onStartedLeading failed'),
      );
    } catch (err) {
      log('error', { err }, 'onStartedLeading threw');
    }
    const outcome = await renewLoop(signal);
    leading = false;
    term.abort();
    if (outcome === 'lost') {
      const holder = holderOf(observed);
      log(
        'warn',
        { renewDeadlineMs, holder },
        holder !== identity && holder !== ''
          ? 'lost the lease: another candidate holds it'
          : 'lost the lease: could not renew it in time',
      );
      call('onStoppedLeading', options.onStoppedLeading);
      await work;
      return;
    }
    await work;
    if (releaseOnCancel) await release();
    call('onStoppedLeading', options.onStoppedLeading);
  }

  return {
    async run(signal) {
      if (running) {
        throw invalidArgument('LeaderElector.run: already running; call run once at a time');
      }
      running = true;
      try {
        while (!signal.aborted) {
          if (!(await acquire(signal))) break;
          await lead(signal);
        }
      } finally {
        running = false;
      }
    },
    isLeader: () => leading,
    leader: () => holderOf(observed),
  };
}
