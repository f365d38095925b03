import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/engine/backend.js';
import { loadModel } from '../src/io/model-files.js';
import { meanReplacedCopy } from '../test/arch/helpers.js';
import { findBlocks } from '../src/vbp/blocks.js';
import { collectStatistics } from '../src/vbp/statistics.js';
import { selectKept } from '../src/vbp/ranking.js';
import { pruneModel } from '../src/vbp/surgery.js';
import { loadDatasets, subset } from './lib/results-setup.js';
import { predictAll } from '../src/measure/predict.js';
import { agreementRate, topOne } from '../src/measure/accuracy.js';
await initBackend('wasm');
const combo = process.argv[2] ?? 'fashion-vit';
const { model } = await loadModel(`examples/cache/${combo}/model.json`);
const { train, test } = loadDatasets(combo.split('-')[0] as any);
const cal = subset(train, 1024);
const { blocks } = findBlocks(model);
const stats = await collectStatistics(model, blocks, { x: cal.x, n: cal.n, sampleShape: [784] });
const acc = async (m: tf.LayersModel) => agreementRate(topOne((await predictAll(m, test.x, [784], test.n)).data, 10), test.y);
console.log('original', await acc(model));
const kept = selectKept(stats.map((s) => s.variance), 0.5, 'global');
for (const [name, mean] of [['mean', (i: number) => stats[i].mean], ['zero', (i: number) => new Float64Array(stats[i].mean.length)]] as const) {
  const plans = blocks.map((block, i) => ({ block, kept: kept[i], mean: mean(i) }));
  const ref = await meanReplacedCopy(model, plans);
  const pruned = await pruneModel(model, plans.map((p) => ({ ...p, mean: name === 'mean' ? p.mean : null })));
  console.log(name, 'replace-ref', await acc(ref), 'pruned', await acc(pruned));
}
// per-neuron: mean magnitude vs std of pruned
for (const [i, s] of stats.entries()) {
  const keep = new Set(kept[i]);
  let m2 = 0, v = 0, c = 0;
  s.mean.forEach((mu, j) => { if (!keep.has(j)) { m2 += mu * mu; v += s.variance[j]; c++; } });
  console.log(blocks[i].fc1, 'pruned', c, 'sum mu^2', m2.toFixed(3), 'sum var', v.toFixed(3));
}
