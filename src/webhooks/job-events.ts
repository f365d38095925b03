// Job state → webhook events. JobStore calls `finished` on every change to a finished state, from
// wherever it happens; the pruning worker calls `epoch` as each fine-tuning epoch ends. The event
// carries the job as the API shows it, so a receiver needs no second request.
import type { Logger } from 'pino';
import { jobResource } from '../api/resources.js';
import type { JobRecord } from '../store/jobs.js';
import type { WebhookEventType } from './events.js';
import type { WebhookEmitter } from './queue.js';

export function jobAnnouncer(emitter: WebhookEmitter, log: Pick<Logger, 'warn'>) {
  const emit = async (rec: JobRecord, type: WebhookEventType, epoch?: number) => {
    try {
      await emitter.emit({
        tenant: rec.tenant,
        jobId: rec.id,
        type,
        epoch,
        data: jobResource(rec),
        callbackUrl: rec.request.callbackUrl,
        callbackEvents: rec.request.callbackEvents,
      });
    } catch (err) {
      // The job's own outcome stands; only its announcement is lost (Redis away at that moment).
      log.warn({ err, jobId: rec.id, type }, 'could not queue a webhook event');
    }
  };
  return {
    finished: (rec: JobRecord) => emit(rec, `job.${rec.state}` as WebhookEventType),
    epoch: (rec: JobRecord, epoch: number) => emit(rec, 'job.epoch', epoch),
  };
}
