// `npm run bench [-- options]`: Lopper's throughput per stage on the current backend
// (LOPPER_BACKEND=auto|webgpu|tensorflow|wasm|cpu), next to the backend's own matmul rate at the
// same layer shapes (the ceiling). Writes bench/results/<backend>-<YYYY-MM-DD>.json and prints
// the table that docs/performance.md holds.
//   --quick            one run per figure, shorter timings (a smoke test)
//   --models mlp,vit   which reference models
//   --no-job           skip the end-to-end prune jobs
//   --no-compare       skip the stock-vs-fixed wasm kernel comparison
//   --out DIR          where to write the JSON (default bench/results)
//   --budget SECONDS   stop starting new models/stages after this long (default 600); the JSON
//                      is rewritten after every model, so a run cut short still leaves its figures
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/engine/backend.js';
import type { BackendName } from '../src/request.js';
import { ceiling, type Ceiling } from './ceiling.js';
import { compareFixes, type Comparison } from './compare.js';
import { pruneJob, type JobResult, type JobSpec } from './job.js';
import { fmt, type Rate } from './measure.js';
import { buildMlp, buildTinyVit, forwardFlops, MLP, VIT } from './models.js';
import { evaluationRate, statisticsRate, syntheticData, trainingRate } from './stages.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const quick = flag('--quick');
const models = option('--models', 'mlp,vit').split(',') as ('mlp' | 'vit')[];
const outDir = option('--out', 'bench/results');
const reps = quick ? 1 : 3;
const minSeconds = quick ? 0.3 : 1.5;
const minMs = quick ? 50 : 200;
const budgetSeconds = Number(option('--budget', '600'));
const startedAt = performance.now();
const overBudget = () => (performance.now() - startedAt) / 1000 > budgetSeconds;
const log = (s: string) => console.error(s);

interface Training {
  batch: number;
  samplesPerSec: Rate;
  gflops: number;
  ceilingGflops: number;
  /** Training GFLOP/s (best run) over the plain-matmul ceiling at the same batch. */
  ofCeiling: number;
}

interface ModelResult {
  name: string;
  forwardMflopsPerSample: number;
  ceilings: Ceiling[];
  statistics: Rate & { samples: number };
  evaluation: Rate & { samples: number };
  training: Training[];
  job: JobResult | null;
  jobError: string | null;
}

const SPECS = {
  mlp: { label: 'MLP 784-512-512-10', build: buildMlp, sample: [MLP.input], batches: [32, 256, 512], data: 16384, trainMax: 16384 },
  vit: {
    label: 'tiny ViT (16 tok, dim 64, 4 blocks)',
    build: buildTinyVit,
    sample: [VIT.tokens, VIT.patch],
    batches: [32, 256],
    data: 8192,
    trainMax: 8192,
  },
} as const;

const JOBS: Record<'mlp' | 'vit', JobSpec> = {
  mlp: { samples: 4096, ratio: 0.5, calibrationSamples: 1024, epochs: 1, batchSize: 32 },
  vit: { samples: 2048, ratio: 0.5, calibrationSamples: 1024, epochs: 1, batchSize: 32 },
};

async function benchModel(key: 'mlp' | 'vit', backend: string): Promise<ModelResult> {
  const spec = SPECS[key];
  const fwd = forwardFlops(key);
  log(`${spec.label}: ${(fwd / 1e6).toFixed(2)} MFLOP forward per sample`);
  const ceilings: Ceiling[] = [];
  const inferenceBatch = 512;
  for (const b of [...new Set([...spec.batches, inferenceBatch])]) {
    const c = await ceiling(key, b, reps, minMs);
    ceilings.push(c);
    log(
      `  matmul ceiling at batch ${b}: ${c.gflops.toFixed(1)} GFLOP/s (${c.layers.map((l) => `${l.name} ${l.gflops.best.toFixed(1)}`).join(', ')})`,
    );
  }
  const data = syntheticData(spec.data, [...spec.sample], 10);
  const model = spec.build();
  try {
    const statistics = await statisticsRate(model, data, minSeconds, reps);
    log(`  statistics: ${statistics.best.toFixed(0)} samples/s (median ${statistics.median.toFixed(0)})`);
    const evaluation = await evaluationRate(model, data, minSeconds, reps);
    log(`  evaluation: ${evaluation.best.toFixed(0)} samples/s (median ${evaluation.median.toFixed(0)})`);
    const training: Training[] = [];
    for (const batch of spec.batches) {
      if (overBudget()) {
        log(`  (budget of ${budgetSeconds} s spent: skipping training at batch ${batch})`);
        continue;
      }
      const r = await trainingRate(model, data, batch, minSeconds, reps, spec.trainMax);
      const gflops = (r.best * 3 * fwd) / 1e9;
      // The ceiling again, right after: the comparison uses the better of the two per layer.
      const at = ceilings.findIndex((c) => c.batch === batch);
      ceilings[at] = await ceiling(key, batch, reps, minMs, ceilings[at]);
      const ceil = ceilings[at].gflops;
      training.push({ batch, samplesPerSec: r, gflops, ceilingGflops: ceil, ofCeiling: gflops / ceil });
      log(
        `  training at batch ${batch}: ${r.best.toFixed(0)} samples/s (median ${r.median.toFixed(0)}), ${gflops.toFixed(1)} GFLOP/s = ${((100 * gflops) / ceil).toFixed(0)}% of ${ceil.toFixed(1)}`,
      );
    }
    let job: JobResult | null = null;
    let jobError: string | null = null;
    if (!flag('--no-job') && !overBudget()) {
      try {
        job = await pruneJob(model, [...spec.sample], 10, JOBS[key], backend as BackendName);
        log(
          `  prune job: ${job.seconds.toFixed(1)} s (${Object.entries(job.timings)
            .map(([k, v]) => `${k} ${Number(v).toFixed(1)}`)
            .join(', ')})`,
        );
      } catch (e) {
        jobError = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
        log(`  prune job FAILED: ${jobError}`);
      }
    }
    return { name: spec.label, forwardMflopsPerSample: fwd / 1e6, ceilings, statistics, evaluation, training, job, jobError };
  } finally {
    model.dispose();
  }
}

function table(results: ModelResult[], backend: string): string {
  const rows: string[] = [
    `| model | stage | batch | samples/s (best) | samples/s (median) | GFLOP/s | matmul ceiling GFLOP/s | of ceiling |`,
    `|---|---|---:|---:|---:|---:|---:|---:|`,
  ];
  for (const r of results) {
    const c512 = r.ceilings.find((c) => c.batch === 512)!;
    const fwd = r.forwardMflopsPerSample / 1e3;
    if (!c512) continue;
    rows.push(
      `| ${r.name} | statistics | 512 | ${fmt(r.statistics.best)} | ${fmt(r.statistics.median)} | ${fmt(r.statistics.best * fwd, 1)} | ${fmt(c512.gflops, 1)} | ${fmt((100 * r.statistics.best * fwd) / c512.gflops)}% |`,
    );
    for (const t of r.training) {
      rows.push(
        `| | training | ${t.batch} | ${fmt(t.samplesPerSec.best)} | ${fmt(t.samplesPerSec.median)} | ${fmt(t.gflops, 1)} | ${fmt(t.ceilingGflops, 1)} | ${fmt(100 * t.ofCeiling)}% |`,
      );
    }
    rows.push(
      `| | evaluation | 512 | ${fmt(r.evaluation.best)} | ${fmt(r.evaluation.median)} | ${fmt(r.evaluation.best * fwd, 1)} | ${fmt(c512.gflops, 1)} | ${fmt((100 * r.evaluation.best * fwd) / c512.gflops)}% |`,
    );
    if (r.job)
      rows.push(
        `| | prune job (${r.job.samples} samples, ratio ${r.job.ratio}, ${r.job.epochs} epoch @ ${r.job.batchSize}) | | **${r.job.seconds.toFixed(1)} s** | | | | |`,
      );
  }
  return `Backend: ${backend}\n\n${rows.join('\n')}`;
}

function comparisonTable(cs: Comparison[]): string {
  const rows = ['| case | stock | Lopper | speedup |', '|---|---:|---:|---:|'];
  for (const c of cs) {
    const f = (v: number) => (c.unit === 'ms' ? `${v.toFixed(2)} ms` : `${fmt(v)} samples/s`);
    rows.push(`| ${c.name} | ${f(c.stock)} | ${f(c.fixed)} | ${c.speedup.toFixed(1)}× |`);
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  const info = await initBackend();
  log(`backend ${info.backend} on ${info.device}`);
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    tfjs: tf.version.tfjs,
    /** 1/5/15-minute load averages at the start: other processes share this machine's cores. */
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
  const date = new Date().toISOString().slice(0, 10);
  await mkdir(outDir, { recursive: true });
  const path = join(outDir, `${info.backend}-${date}.json`);
  const results: ModelResult[] = [];
  let fixes: Comparison[] | null = null;
  const save = async (complete: boolean) => {
    const seconds = (performance.now() - startedAt) / 1000;
    const json = {
      backend: info.backend,
      device: info.device,
      date,
      createdAt: new Date().toISOString(),
      machine,
      quick,
      complete,
      seconds,
      models: results,
      fixes,
    };
    await writeFile(path, JSON.stringify(json, null, 2) + '\n');
  };
  for (const m of models) {
    if (overBudget()) {
      log(`(budget of ${budgetSeconds} s spent: skipping ${m})`);
      continue;
    }
    results.push(await benchModel(m, info.backend));
    await save(false);
  }
  if (info.backend === 'wasm' && !flag('--no-compare') && !overBudget()) {
    log('stock vs Lopper wasm kernels:');
    fixes = await compareFixes({ reps, minMs, training: true, log });
  }
  await save(true);
  const seconds = (performance.now() - startedAt) / 1000;
  console.log(
    table(
      results,
      `${info.backend} on ${info.device}; ${machine.cpu} (${machine.cores} cores), Node ${machine.node}, tfjs ${machine.tfjs}`,
    ),
  );
  if (fixes) console.log('\n' + comparisonTable(fixes));
  console.log(`\nwrote ${path} in ${seconds.toFixed(0)} s (load average at start ${machine.loadAverage.join(' ')})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
