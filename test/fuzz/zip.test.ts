// Fuzz class "zip": mutated model .zip uploads (see archives.ts).
import { zipCase, type ArchiveBases } from './archives.js';
import { buildBases } from './models.js';
import { fuzzClass } from './runner.js';

// A model zip is unpacked in the inspector sandbox (src/io/model-zip.ts), not on the API's event
// loop, so this class is held to the default /healthz and loop-delay bounds like the others.

fuzzClass<ArchiveBases>({
  name: 'zip',
  count: 700,
  prepare: async (ctx) => ({ models: buildBases(ctx) }),
  generate: (rng, _i, bases, ctx) => zipCase(rng, bases, ctx),
});
