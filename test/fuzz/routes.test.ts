// Fuzz class "routes": every {id} route and the router itself with hostile URLs (see routes.ts).
import { routeCase } from './routes.js';
import { fuzzClass } from './runner.js';

fuzzClass<void>({
  name: 'routes',
  count: 600,
  generate: (rng, _i, _base, ctx) => routeCase(rng, ctx),
});
