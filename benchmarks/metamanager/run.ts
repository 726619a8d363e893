/**
 * Benchmark of `@ke/metamanager`:
 *
 * 1. Store operations per second, `createMetaManager` over `@ke/apiserver`'s SQLite store
 *    (`apply` of insert, update, delete messages; `get` of one object) against raw
 *    better-sqlite3 running the same SQL statements on the same schema and pragmas, each run in
 *    a fresh child process (`store.ts`) on a fresh file, on the data disk and on tmpfs.
 * 2. Propagation latency from the cloud API's 201 to the edge store, for pods bound to the edge
 *    node, with ke-cloud and ke-edge started from source (`propagation.ts`).
 *
 *   npx tsx --conditions=@ke/source benchmarks/metamanager/run.ts [--runs=3] [--quick]
 *     [--no-store] [--no-propagation] [--cpu-prof=DIR]
 *
 * Prints markdown tables: medians of the runs (min–max in parentheses) and metamanager / raw.
 * Loopback only; every loop bounded in count and time; stops only the processes it started.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { cell, cpuPressureUs, format, median } from '../stats';
import { type Metrics, runPropagation } from './propagation';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const runsArg = args.find((arg) => arg.startsWith('--runs='));
const RUNS = runsArg ? Math.max(1, Number(runsArg.slice('--runs='.length)) || 1) : quick ? 1 : 3;
const STORE = !args.includes('--no-store');
const PROPAGATION = !args.includes('--no-propagation');
const profileArg = args.find((arg) => arg.startsWith('--cpu-prof='));
const CPU_PROFILE_DIR = profileArg ? resolve(profileArg.slice('--cpu-prof='.length)) : undefined;

const STORE_COUNT = quick ? 500 : 10_000;
const BURST = quick ? 100 : 1_000;
const CONCURRENCY = 16;
const PACED = quick ? 10 : 100;
/** Quiet between paced pods: ke-cloud writes the previous pod's ObjectSync meanwhile. */
const PACED_GAP_MS = 100;
/** Bound of each measured propagation phase of one run (burst, ObjectSync catch-up, paced). */
const PROPAGATION_MS = 120_000;
/** A store child that has not finished by then is killed (by its pid). */
const STORE_CHILD_MS = 300_000;

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const storeScript = join(here, 'store.ts');

const log = (line: string) => console.error(line);

// ---------------------------------------------------------------------------------------------
// Store phase

type Impl = 'metamanager' | 'raw';
interface StoreResult extends Metrics {
  complete: number;
  failures: number;
}
interface StoreOutput {
  insert: number;
  update: number;
  get: number;
  delete: number;
  insertCpuUs: number;
  updateCpuUs: number;
  getCpuUs: number;
  deleteCpuUs: number;
  complete: boolean;
  failures: number;
  firstFailure: string;
  afterUpdate: string;
  afterDelete: string;
  dbBytes: number;
}

const checksums = new Map<string, Set<string>>();
const storeProblems: string[] = [];

/** One `store.ts` child on a fresh file under `parent`; stops only that child. */
function storeChild(impl: Impl, parent: string): Promise<StoreOutput> {
  const dir = mkdtempSync(join(parent, 'ke-bench-meta-store-'));
  const child = spawn(
    process.execPath,
    [
      '--conditions=@ke/source',
      '--import',
      'tsx',
      storeScript,
      impl,
      String(STORE_COUNT),
      join(dir, 'store.db'),
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const timer = setTimeout(() => {
    log(`store child ${child.pid} (${impl}) ran over ${STORE_CHILD_MS / 1000} s: killing it`);
    child.kill('SIGKILL');
  }, STORE_CHILD_MS);
  return new Promise<StoreOutput>((resolvePromise, reject) => {
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line) {
        reject(new Error(`store child (${impl}) exited ${code ?? signal}: ${out.slice(-500)}`));
        return;
      }
      resolvePromise(JSON.parse(line) as StoreOutput);
    });
  });
}

interface Medium {
  key: string;
  label: string;
  dir: string;
}

function media(): Medium[] {
  const list: Medium[] = [{ key: 'disk', label: `file on disk (${tmpdir()})`, dir: tmpdir() }];
  if (existsSync('/dev/shm')) list.push({ key: 'tmpfs', label: 'file on tmpfs', dir: '/dev/shm' });
  return list;
}

async function storePhase(): Promise<Map<string, Record<Impl, StoreResult[]>>> {
  const results = new Map<string, Record<Impl, StoreResult[]>>();
  for (const medium of media()) {
    const byImpl: Record<Impl, StoreResult[]> = { metamanager: [], raw: [] };
    results.set(medium.key, byImpl);
    for (let run = 1; run <= RUNS; run++) {
      // Alternate the order so drift in background load favours neither side.
      const order: Impl[] = run % 2 ? ['metamanager', 'raw'] : ['raw', 'metamanager'];
      for (const impl of order) {
        const t0 = performance.now();
        const output = await storeChild(impl, medium.dir);
        log(
          `store ${medium.key} run ${run}/${RUNS} ${impl}: ` +
            `${((performance.now() - t0) / 1000).toFixed(1)} s`,
        );
        for (const [name, sum] of [
          ['afterUpdate', output.afterUpdate],
          ['afterDelete', output.afterDelete],
        ] as const) {
          const set = checksums.get(name) ?? new Set<string>();
          set.add(sum);
          checksums.set(name, set);
        }
        if (output.failures > 0) {
          storeProblems.push(`${impl} ${medium.key}: ${output.failures} (${output.firstFailure})`);
        }
        if (!output.complete) storeProblems.push(`${impl} ${medium.key}: a phase hit its bound`);
        byImpl[impl].push({
          insert: output.insert,
          update: output.update,
          get: output.get,
          delete: output.delete,
          insertCpuUs: output.insertCpuUs,
          updateCpuUs: output.updateCpuUs,
          getCpuUs: output.getCpuUs,
          deleteCpuUs: output.deleteCpuUs,
          dbMiB: output.dbBytes / 2 ** 20,
          complete: output.complete ? 1 : 0,
          failures: output.failures,
        });
      }
    }
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// Report

const STORE_ROWS: Array<{ key: string; label: string }> = [
  { key: 'insert', label: 'insert (apply, new object)' },
  { key: 'update', label: 'update (apply, newer resourceVersion)' },
  { key: 'get', label: 'get (MetaManager.get of one object)' },
  { key: 'delete', label: 'delete (apply)' },
];

function storeTable(results: Map<string, Record<Impl, StoreResult[]>>): string[] {
  const lines = [
    `| ${STORE_COUNT.toLocaleString('en-US')} objects (pods and config maps, ~1 KB) ` +
      '| metamanager ops/s | raw better-sqlite3 ops/s | metamanager / raw ' +
      '| CPU µs per op, metamanager / raw |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const medium of media()) {
    const byImpl = results.get(medium.key);
    if (!byImpl) continue;
    for (const row of STORE_ROWS) {
      const meta = byImpl.metamanager.map((r) => r[row.key] ?? Number.NaN);
      const raw = byImpl.raw.map((r) => r[row.key] ?? Number.NaN);
      const ratio = median(meta) / median(raw);
      const cpu = (side: StoreResult[]) =>
        format(median(side.map((r) => r[`${row.key}CpuUs`] ?? Number.NaN)), 0);
      lines.push(
        `| ${row.label}, ${medium.label} | ${cell(meta, 0)} | ${cell(raw, 0)} | ` +
          `${Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : ''} | ` +
          `${cpu(byImpl.metamanager)} / ${cpu(byImpl.raw)} |`,
      );
    }
  }
  return lines;
}

function propagationTable(runs: Metrics[]): string[] {
  const rows: Array<{ key: string; label: string; digits: number }> = [
    {
      key: 'burstP50',
      label:
        `burst of ${BURST.toLocaleString('en-US')} pods (${CONCURRENCY} POSTs in flight): ` +
        'p50 ms, API 201 → edge store',
      digits: 1,
    },
    { key: 'burstP99', label: 'burst: p99 ms, API 201 → edge store', digits: 1 },
    { key: 'burstMax', label: 'burst: max ms, API 201 → edge store', digits: 1 },
    { key: 'burstSendP50', label: 'burst: p50 ms, POST sent → edge store', digits: 1 },
    { key: 'burstSendP99', label: 'burst: p99 ms, POST sent → edge store', digits: 1 },
    {
      key: 'burstCloudWatchP50',
      label: 'burst, split: p50 ms, API 201 → a watch on the cloud API',
      digits: 1,
    },
    { key: 'burstCloudWatchP99', label: 'burst, split: p99 ms, same', digits: 1 },
    {
      key: 'burstHopP50',
      label: 'burst, split: p50 ms, cloud API watch → edge store',
      digits: 1,
    },
    { key: 'burstHopP99', label: 'burst, split: p99 ms, same', digits: 1 },
    { key: 'burstPostSeconds', label: 'burst: s until the last 201', digits: 2 },
    { key: 'burstSeconds', label: 'burst: s until the last pod is in the edge store', digits: 2 },
    { key: 'burstApiRate', label: 'burst: pods/s created (API)', digits: 0 },
    { key: 'burstEdgeRate', label: 'burst: pods/s arrived (edge store)', digits: 0 },
    { key: 'cpuCloud', label: 'burst: ke-cloud CPU, % of one core', digits: 0 },
    { key: 'cpuEdge', label: 'burst: ke-edge CPU, % of one core', digits: 0 },
    {
      key: 'syncSeconds',
      label: "burst: s until ke-cloud has written every pod's ObjectSync",
      digits: 1,
    },
    { key: 'syncRate', label: "burst: pods' ObjectSyncs written per s", digits: 0 },
    {
      key: 'cpuCloudSync',
      label: 'ke-cloud CPU after the last arrival until then, % of one core',
      digits: 0,
    },
    {
      key: 'pacedP50',
      label:
        `paced, ${PACED} pods one at a time, ${PACED_GAP_MS} ms apart: ` +
        'p50 ms, API 201 → edge store',
      digits: 2,
    },
    { key: 'pacedP99', label: 'paced: p99 ms, API 201 → edge store', digits: 2 },
    {
      key: 'pacedCloudWatchP50',
      label: 'paced, split: p50 ms, API 201 → a watch on the cloud API',
      digits: 2,
    },
    { key: 'pacedHopP50', label: 'paced, split: p50 ms, cloud API watch → edge store', digits: 2 },
    { key: 'pacedHopP99', label: 'paced, split: p99 ms, same', digits: 2 },
  ];
  const lines = ['| Propagation, ke-cloud → one ke-edge | value |', '|---|---:|'];
  for (const row of rows) {
    lines.push(
      `| ${row.label} | ${cell(
        runs.map((r) => r[row.key] ?? Number.NaN),
        row.digits,
      )} |`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const started = new Date();
  const pressure0 = cpuPressureUs();
  const wall0 = performance.now();
  const loadBefore = loadavg();
  const store = STORE ? await storePhase() : undefined;
  const propagation: Metrics[] = [];
  const propagationErrors: string[] = [];
  if (PROPAGATION) {
    for (let run = 1; run <= RUNS; run++) {
      const t0 = performance.now();
      try {
        propagation.push(
          await runPropagation({
            burst: BURST,
            concurrency: CONCURRENCY,
            paced: PACED,
            pacedGapMs: PACED_GAP_MS,
            deadlineMs: PROPAGATION_MS,
            log,
            ...(CPU_PROFILE_DIR ? { cpuProfileDir: CPU_PROFILE_DIR } : {}),
          }),
        );
      } catch (error) {
        propagationErrors.push((error as Error).message.split('\n')[0] ?? '');
        log(`propagation run ${run} failed: ${(error as Error).message}`);
      }
      log(`propagation run ${run}/${RUNS}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
  const loadAfter = loadavg();
  const pressure1 = cpuPressureUs();
  const stalled =
    pressure0 !== undefined && pressure1 !== undefined
      ? `; some task waited for a CPU ${(
          (100 * (pressure1 - pressure0)) / 1000 / (performance.now() - wall0)
        ).toFixed(0)}% of the time (PSI)`
      : '';
  const git = (...gitArgs: string[]) => {
    try {
      return execFileSync('git', gitArgs, { cwd: repoRoot, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  const commit = git('rev-parse', '--short', 'HEAD') || 'unknown';
  const dirty = git('status', '--porcelain', '--', 'libs', 'apps', 'benchmarks/metamanager') !== '';
  const cpu = cpus();
  const lines: string[] = ['## MetaManager (`benchmarks/metamanager`)', ''];
  lines.push(
    `Date ${started.toISOString()}; ` +
      `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ` +
      `${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
      `load average ${loadBefore[0]!.toFixed(2)} before, ` +
      `${loadAfter[0]!.toFixed(2)} after${stalled}; ` +
      `commit ${commit}${dirty ? ' with uncommitted changes' : ''}; ` +
      `${((performance.now() - wall0) / 1000).toFixed(0)} s.`,
    `Median of ${RUNS} run${RUNS > 1 ? 's' : ''} (min–max in parentheses)` +
      `${quick ? '; QUICK MODE (small counts)' : ''}.`,
    '',
  );
  if (store) {
    lines.push(...storeTable(store), '');
    const same = [...checksums.values()].every((set) => set.size === 1);
    lines.push(
      same
        ? 'Both sides left byte-identical rows in `objects`, `changes` and `meta` (checksums ' +
            'after the updates and after the deletes).'
        : 'THE TWO SIDES WROTE DIFFERENT ROWS: ' +
            JSON.stringify([...checksums].map(([name, sums]) => [name, [...sums]])),
    );
    if (storeProblems.length > 0) lines.push(`Store problems: ${storeProblems.join('; ')}.`);
    lines.push('');
  }
  if (PROPAGATION) {
    if (propagation.length > 0) lines.push(...propagationTable(propagation), '');
    const lost = propagation.reduce((sum, r) => sum + (r.burstMissing ?? 0), 0);
    const failed = propagation.reduce((sum, r) => sum + (r.failures ?? 0), 0);
    const stored = propagation.map((r) => r.edgeStorePods ?? Number.NaN);
    lines.push(
      `Pods in the edge SQLite file at the end of each run: ${stored.join(', ')} ` +
        `(expected ${20 + BURST + PACED}: 20 warm-up, ${BURST} burst, ${PACED} paced); ` +
        `pods that never arrived: ${lost}; request or watch failures: ${failed}.`,
    );
    for (const message of propagationErrors) lines.push(`Failed run: ${message}`);
  }
  console.log(lines.join('\n'));
}

await main();
