// Fuzz class "zip": mutated model .zip uploads (see archives.ts).
import { zipCase, type ArchiveBases } from './archives.js';
import { buildBases } from './models.js';
import { fuzzClass } from './runner.js';

fuzzClass<ArchiveBases>({
  name: 'zip',
  count: 700,
  prepare: async (ctx) => ({ models: buildBases(ctx) }),
  generate: (rng, _i, bases, ctx) => zipCase(rng, bases, ctx),
});
