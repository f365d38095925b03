// Fuzz class "multipart": odd multipart bodies to both upload routes (see multipart.ts).
import { multipartCase } from './multipart.js';
import { fuzzClass } from './runner.js';

fuzzClass<void>({
  name: 'multipart',
  count: 600,
  generate: (rng, _i, _base, ctx) => multipartCase(rng, ctx),
});
