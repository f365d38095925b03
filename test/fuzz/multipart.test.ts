// Fuzz class "multipart": odd multipart bodies to both upload routes (see multipart.ts).
import { multipartCase } from './multipart.js';
import { fuzzClass } from './runner.js';

// Bodies reach the API in socket-sized pieces (runner.ts), so busboy parses a 10,000-field body a
// piece at a time and this class is held to the default /healthz and loop-delay bounds.

fuzzClass<void>({
  name: 'multipart',
  count: 600,
  generate: (rng, _i, _base, ctx) => multipartCase(rng, ctx),
});
