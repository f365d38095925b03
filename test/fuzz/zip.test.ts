// Fuzz class "zip": mutated model .zip uploads (see archives.ts).
import { zipCase, type ArchiveBases } from './archives.js';
import { buildBases } from './models.js';
import { fuzzClass } from './runner.js';

// Open defect: a few archive cases (bombs past the limit, nested and descriptor zips) still block
// the API's event loop for 100-160 ms on this 2-core machine (fflate inflates and files are
// written synchronously, 4 KiB of archive at a time); until unpacking moves off the loop this
// class holds /healthz and the loop delay to 500 ms.

fuzzClass<ArchiveBases>({
  name: 'zip',
  count: 700,
  prepare: async (ctx) => ({ models: buildBases(ctx) }),
  healthzLimitMs: 500,
  generate: (rng, _i, bases, ctx) => zipCase(rng, bases, ctx),
});
