// Step 2 of VBP: choose which neurons to remove. Global scope ranks every hidden neuron of every
// block together (the paper's rule); per-block scope applies the ratio inside each block, as an
// ablation. At least one neuron survives in each block so the model stays well-formed.

export type Scope = 'global' | 'per-block';

/** Sorted indices of the neurons kept in each block. */
export function selectKept(scores: Float64Array[], ratio: number, scope: Scope): Int32Array[] {
  const removed = scores.map((s) => new Uint8Array(s.length));
  if (scope === 'global') {
    const total = scores.reduce((a, s) => a + s.length, 0);
    const order: [number, number][] = [];
    scores.forEach((s, b) => s.forEach((_, i) => order.push([b, i])));
    // Stable ties: equal scores are broken by block, then index, so results are reproducible.
    order.sort((p, q) => scores[p[0]][p[1]] - scores[q[0]][q[1]] || p[0] - q[0] || p[1] - q[1]);
    removeInOrder(order, Math.ceil(ratio * total - 1e-9), scores, removed);
  } else {
    scores.forEach((s, b) => {
      const order = Array.from(s.keys(), (i): [number, number] => [b, i]).sort((p, q) => s[p[1]] - s[q[1]] || p[1] - q[1]);
      removeInOrder(order, Math.ceil(ratio * s.length - 1e-9), scores, removed);
    });
  }
  return removed.map((r) => Int32Array.from(r.keys()).filter((i) => r[i] === 0));
}

function removeInOrder(order: [number, number][], count: number, scores: Float64Array[], removed: Uint8Array[]): void {
  const left = scores.map((s) => s.length);
  let done = 0;
  for (const [b, i] of order) {
    if (done >= count) break;
    if (left[b] <= 1) continue;
    removed[b][i] = 1;
    left[b] -= 1;
    done += 1;
  }
}
