// `lopper inspect` and `lopper prune`: the same pipeline the service's workers run, from a terminal.
// Exit codes: 0 success, 2 bad usage or bad input (nothing written to --out), 1 anything else.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { KEYS_USAGE, keysCommand } from './cli-keys.js';
import { CancelledError, InputError } from './errors.js';
import { readModelSource } from './io/model-source.js';
import { inspectModelFiles, type ModelSummary } from './inspect.js';
import { runPipeline } from './pipeline.js';
import type { Report } from './report.js';
import { BACKENDS, fineTuneSchema, pruningSchema, type Progress } from './request.js';

const USAGE = `Usage:
  lopper inspect <model.json|model.zip|dir> [--json]
  lopper prune <model.json|model.zip|dir> --data <train.npz> [--eval-data <eval.npz>]
      --ratio <p> | --target-macs-reduction <r> | --target-params-reduction <r>
      [--criterion variance|variance-output|magnitude|random] [--no-mean-shift] [--calibration-samples N]
      [--statistics post|pre] [--scope global|per-block]
      [--epochs 10] [--batch-size 32] [--lr auto|RATE] [--weight-decay 0.01] [--temperature T]
      [--distill-weight W] [--early-stop-patience N] [--early-stop-retention R] [--seed S] [--backend auto|webgpu|tensorflow|wasm|cpu] --out <dir> [--json]
${KEYS_USAGE}`;

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  data: { type: 'string' },
  'eval-data': { type: 'string' },
  ratio: { type: 'string' },
  'early-stop-patience': { type: 'string' },
  'early-stop-retention': { type: 'string' },
  'target-macs-reduction': { type: 'string' },
  'target-params-reduction': { type: 'string' },
  criterion: { type: 'string' },
  'no-mean-shift': { type: 'boolean' },
  'calibration-samples': { type: 'string' },
  statistics: { type: 'string' },
  scope: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  'weight-decay': { type: 'string' },
  temperature: { type: 'string' },
  'distill-weight': { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
  out: { type: 'string' },
} as const;

/** A numeric flag, or undefined when absent (so the schema's default applies). */
function numberFlag(values: Record<string, unknown>, flag: string): number | undefined {
  const raw = values[flag];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw === '' || !Number.isFinite(n)) throw new InputError(`--${flag}`, `--${flag} must be a number, got "${raw}"`);
  return n;
}

function required(values: Record<string, unknown>, flag: string): string {
  const v = values[flag];
  if (typeof v !== 'string' || v === '') throw new InputError(`--${flag}`, `--${flag} is required`);
  return v;
}

/** zod errors → an InputError naming the CLI flag at fault. */
function parseWith<S extends z.ZodTypeAny>(schema: S, value: unknown, flags: Record<string, string>): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const key = String(issue.path[0] ?? '');
  const flag = flags[key] ?? key;
  throw new InputError(flag, `${flag}: ${issue.message}`);
}

function printSummary(s: ModelSummary): string {
  const lines = [
    `params ${s.params.toLocaleString('en')}   MACs/sample ${s.macs.toLocaleString('en')}`,
    `input ${JSON.stringify(s.inputShape)}   output ${JSON.stringify(s.outputShape)}`,
    `prunable MLP blocks: ${s.blocks.length}`,
    ...s.blocks.map((b) => `  ${b.fc1} → ${b.activation} → ${b.fc2}   hidden ${b.hidden}`),
  ];
  if (s.notPrunable.length) lines.push('not prunable:', ...s.notPrunable.map((n) => `  ${n.layer}: ${n.reason}`));
  return lines.join('\n');
}

const pct = (v: number | null) => (v === null ? 'n/a' : `${(100 * v).toFixed(2)}%`);

function printReport(r: Report): string {
  return [
    `backend ${r.backend} (${r.device})`,
    `pruned ${r.prunedNeurons.removed}/${r.prunedNeurons.total} hidden neurons (${r.criterion}${r.meanShift ? ' + mean shift' : ''})`,
    ...(r.costSearch
      ? [
          `ratio ${r.ratio.toFixed(4)}: the fewest neurons for −${pct(r.costSearch.target)} ${r.costSearch.metric === 'macs' ? 'MACs' : 'params'} (${r.costSearch.trials.length} tries)`,
        ]
      : []),
    `params ${r.params.before} → ${r.params.after} (−${pct(r.params.reduction)})   MACs ${r.macs.before} → ${r.macs.after} (−${pct(r.macs.reduction)})`,
    `accuracy original ${pct(r.accuracy.original)}   pruned ${pct(r.accuracy.pruned)}   fine-tuned ${pct(r.accuracy.fineTuned)}`,
    `agreement with original: pruned ${pct(r.agreement.pruned)}   fine-tuned ${pct(r.agreement.fineTuned)}`,
    ...(r.fineTune.lrSearch
      ? [
          `learning rate ${r.fineTune.learningRate} (auto: best of ${r.fineTune.lrSearch.candidates.length} on a validation split, ${r.fineTune.lrSearch.seconds.toFixed(1)} s)`,
        ]
      : []),
    ...r.latency.map(
      (l) => `latency batch ${l.batch}: ${l.beforeMs.toFixed(3)} ms → ${l.afterMs.toFixed(3)} ms (×${l.speedup.toFixed(2)})`,
    ),
  ].join('\n');
}

/** Progress on stderr: every stage change, and at most one line every 2 s within a stage. */
function progressPrinter(): (p: Progress) => void {
  let stage = '';
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (p.stage === stage && now - last < 2000) return;
    stage = p.stage;
    last = now;
    const detail = p.epoch !== undefined ? ` epoch ${p.epoch} step ${p.step} loss ${p.loss?.toFixed(4)}` : '';
    process.stderr.write(`[${(100 * p.progress).toFixed(0).padStart(3)}%] ${p.stage}${detail}\n`);
  };
}

/** --target-macs-reduction / --target-params-reduction as pruning.target (both given: the schema refuses). */
function costTarget(values: Record<string, unknown>): object | undefined {
  const macs = numberFlag(values, 'target-macs-reduction');
  const params = numberFlag(values, 'target-params-reduction');
  if (macs === undefined && params === undefined) return undefined;
  return { ...(macs !== undefined ? { macsReduction: macs } : {}), ...(params !== undefined ? { paramsReduction: params } : {}) };
}

async function prune(model: string, values: Record<string, any>): Promise<void> {
  const pruning = parseWith(
    pruningSchema,
    {
      ratio: numberFlag(values, 'ratio'),
      target: costTarget(values),
      criterion: values.criterion,
      meanShift: values['no-mean-shift'] ? false : undefined,
      calibrationSamples: numberFlag(values, 'calibration-samples'),
      seed: numberFlag(values, 'seed'),
      statistics: values.statistics,
      scope: values.scope,
    },
    {
      ratio: '--ratio',
      target: '--target-macs-reduction',
      criterion: '--criterion',
      calibrationSamples: '--calibration-samples',
      seed: '--seed',
      statistics: '--statistics',
      scope: '--scope',
    },
  );
  const fineTune = parseWith(
    fineTuneSchema,
    {
      epochs: numberFlag(values, 'epochs'),
      batchSize: numberFlag(values, 'batch-size'),
      learningRate: values.lr === 'auto' ? 'auto' : numberFlag(values, 'lr'),
      weightDecay: numberFlag(values, 'weight-decay'),
      temperature: numberFlag(values, 'temperature'),
      distillWeight: numberFlag(values, 'distill-weight'),
      earlyStop:
        values['early-stop-patience'] !== undefined || values['early-stop-retention'] !== undefined
          ? { patience: numberFlag(values, 'early-stop-patience'), retention: numberFlag(values, 'early-stop-retention') }
          : undefined,
    },
    {
      epochs: '--epochs',
      batchSize: '--batch-size',
      learningRate: '--lr',
      weightDecay: '--weight-decay',
      temperature: '--temperature',
      distillWeight: '--distill-weight',
      earlyStop: '--early-stop-patience/--early-stop-retention',
    },
  );
  // Absent: LOPPER_BACKEND, else auto (decided by initBackend).
  const backend = parseWith(z.enum(BACKENDS).optional(), values.backend, { '': '--backend' });
  const data = required(values, 'data');
  const outDir = required(values, 'out');
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  try {
    const report = await runPipeline(
      { model, data, evalData: values['eval-data'], outDir, pruning, fineTune, backend },
      { onProgress: values.json ? undefined : progressPrinter(), signal: abort.signal },
    );
    process.stdout.write(
      (values.json
        ? JSON.stringify(report, null, 2)
        : `${printReport(report)}\nwrote ${outDir}/{model.json,weights.bin,model.zip,statistics.json,report.json}`) + '\n',
    );
  } finally {
    process.off('SIGINT', stop);
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    if (argv[0] === 'keys') return await keysCommand(argv.slice(1));
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    const [command, model, ...rest] = positionals;
    if (values.help || !command) {
      process.stdout.write(USAGE + '\n');
      return values.help ? 0 : 2;
    }
    if (command !== 'inspect' && command !== 'prune') throw new InputError('command', `unknown command "${command}"`);
    if (!model) throw new InputError('model', 'a model path (model.json, .zip or folder) is required');
    if (rest.length) throw new InputError('arguments', `unexpected arguments: ${rest.join(' ')}`);
    if (command === 'inspect') {
      const summary = await inspectModelFiles(await readModelSource(model));
      process.stdout.write((values.json ? JSON.stringify(summary, null, 2) : printSummary(summary)) + '\n');
    } else {
      await prune(model, values);
    }
    return 0;
  } catch (err) {
    if (err instanceof InputError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`lopper: ${(err as Error).message}\n${err instanceof InputError ? '' : USAGE + '\n'}`);
      return 2;
    }
    if (err instanceof CancelledError) {
      process.stderr.write('lopper: cancelled; nothing was written\n');
      return 130;
    }
    throw err;
  }
}
