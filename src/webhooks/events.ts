// The events a webhook carries and the one body shape they all share. The body is serialized once,
// when an event is fanned out, so every retry of a delivery sends (and signs) the same bytes.
import { z } from 'zod';

export const WEBHOOK_EVENTS = ['job.completed', 'job.failed', 'job.cancelled', 'job.epoch'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];
export const webhookEventSchema = z.enum(WEBHOOK_EVENTS);

/** What a callbackUrl or an endpoint gets when it names no events: a job's end, not its progress. */
export const TERMINAL_EVENTS: readonly WebhookEventType[] = ['job.completed', 'job.failed', 'job.cancelled'];

export interface WebhookEvent {
  tenant: string;
  jobId: string;
  type: WebhookEventType;
  /** The job's own callback, from its request. */
  callbackUrl?: string;
  /** Which events the callback wants; TERMINAL_EVENTS when absent. */
  callbackEvents?: WebhookEventType[];
  /** The job as the API shows it. */
  data: unknown;
  /** For job.epoch: the epoch just finished (it makes each epoch's event distinct). */
  epoch?: number;
}

/** The JSON body of one delivery. */
export function eventBody(deliveryId: string, type: WebhookEventType, createdAt: string, data: unknown): string {
  return JSON.stringify({ id: deliveryId, type, createdAt, data });
}
