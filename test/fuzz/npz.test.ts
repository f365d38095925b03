// Fuzz class "npz": mutated .npz dataset uploads (see archives.ts).
import { npzCase } from './archives.js';
import { fuzzClass } from './runner.js';

fuzzClass<void>({
  name: 'npz',
  count: 900,
  generate: (rng, _i, _base, ctx) => npzCase(rng, ctx),
});
