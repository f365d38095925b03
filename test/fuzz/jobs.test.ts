// Fuzz class "jobs": hostile POST /v1/jobs bodies and headers (see jobs.ts).
import { jobCase, prepareJobs, type JobBases } from './jobs.js';
import { fuzzClass } from './runner.js';

fuzzClass<JobBases>({
  name: 'jobs',
  count: 600,
  prepare: prepareJobs,
  generate: (rng, _i, bases, ctx) => jobCase(rng, ctx, bases),
});
