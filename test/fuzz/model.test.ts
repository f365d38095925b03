// Fuzz class "model": ≥ 2,000 mutated model.json uploads (see models.ts).
import { buildBases, modelCase, type ModelBases } from './models.js';
import { fuzzClass } from './runner.js';

fuzzClass<ModelBases>({
  name: 'model',
  count: 2000,
  prepare: async (ctx) => buildBases(ctx),
  generate: (rng, _i, bases, ctx) => {
    const { doc: _doc, ...spec } = modelCase(rng, bases, ctx);
    return spec;
  },
});
