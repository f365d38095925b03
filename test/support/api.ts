// Driving the API from tests through inject: multipart uploads, job creation, and polling a job
// until it reaches a state. It needs no TensorFlow.js, so the no-tensors test uses it too.
//
//   const { upload, createJob, finished } = client(() => app);   // app is built later, in before()
import assert from 'node:assert/strict';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { waitFor } from './harness.js';
import { datasetNpz, modelParts, multipart, type Part } from './request-fixtures.js';

export const FINISHED = ['completed', 'failed', 'cancelled'];

/** A Fastify app, or a wrapper of its inject (e.g. one that retries while Redis restarts). */
export interface Injector {
  inject(opts: InjectOptions): Promise<LightMyRequestResponse>;
}

/** Test helpers bound to `app()`. `headers` (e.g. a bearer key) go with every request. */
export function client(app: () => Injector, headers: Record<string, string> = {}) {
  /** POST multipart `parts` to `url`; the response as it is. */
  const send = (url: string, parts: Part[], extra: Record<string, string> = {}) => {
    const body = multipart(parts);
    return app().inject({ method: 'POST', url, payload: body.payload, headers: { ...body.headers, ...headers, ...extra } });
  };
  /** An upload that must answer 201; the new record's id. */
  const upload = async (url: string, parts: Part[], extra: Record<string, string> = {}) => {
    const res = await send(url, parts, extra);
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id as string;
  };
  const getJob = async (id: string) => (await app().inject({ url: `/v1/jobs/${id}`, headers })).json();
  /** Polls job `id` until its state is one of `states`; the record then. */
  const waitState = (id: string, states: string[], timeoutMs = 120_000, everyMs = 50) =>
    waitFor(
      async () => {
        const j = await getJob(id);
        return states.includes(j.state) ? j : null;
      },
      timeoutMs,
      `job ${id} to reach ${states.join('|')}`,
      everyMs,
    );
  return {
    send,
    upload,
    uploadModel: (files: { modelJson: Uint8Array; weights: Uint8Array }) => upload('/v1/models', modelParts(files)),
    /** A dataset of `n` samples (datasetNpz) uploaded as `name`. */
    uploadDataset: (n: number, dim = 8, name = `d${n}.npz`) =>
      upload('/v1/datasets', [{ field: 'file', filename: name, content: datasetNpz(n, dim) }]),
    /** POST /v1/jobs that must answer 202; the job record. */
    createJob: async (body: object) => {
      const res = await app().inject({ method: 'POST', url: '/v1/jobs', payload: body, headers });
      assert.equal(res.statusCode, 202, res.body);
      return res.json();
    },
    getJob,
    waitState,
    /** Polls job `id` until it is completed, failed or cancelled. */
    finished: (id: string, timeoutMs = 120_000) => waitState(id, FINISHED, timeoutMs),
  };
}
