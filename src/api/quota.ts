// Quota refusals as problems, and the early check that refuses an upload before its body is read
// when the tenant's quota could not take it anyway. The final, atomic check is in the stores.
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import type { Quota, QuotaName } from '../store/tenants.js';
import type { Services } from './plugins/services.js';

const WHAT: Record<QuotaName, string> = {
  storedBytes: 'bytes stored (models + datasets)',
  models: 'models',
  datasets: 'datasets',
  jobs: 'queued + active jobs',
};

/** Bytes go over with 413 (this upload is too large for what is left), counts with 429. */
export function quotaExceeded(tenant: string, name: QuotaName, quota: Quota, detail?: string): ApiError {
  return new ApiError(
    'quota-exceeded',
    name === 'storedBytes' ? 413 : 429,
    detail ?? `tenant "${tenant}" is at its quota of ${quota[name]} ${WHAT[name]} (quota.${name})`,
    `quota.${name}`,
  );
}

// Multipart framing and form fields around the files; a body past remaining + this cannot fit.
const FRAMING_BYTES = 1024 * 1024;

/** Refuses an upload of `kind` that cannot fit, from the counters and the declared Content-Length. */
export async function checkUploadRoom(lopper: Services, req: FastifyRequest, kind: 'models' | 'datasets'): Promise<Quota> {
  const tenant = req.principal.tenant;
  const [quota, usage] = await Promise.all([lopper.tenants.quota(tenant), lopper.tenants.usage(tenant)]);
  if (usage[kind] >= quota[kind]) throw quotaExceeded(tenant, kind, quota);
  const left = quota.storedBytes - usage.storedBytes;
  const declared = Number(req.headers['content-length'] ?? 0);
  if (left <= 0 || declared > left + FRAMING_BYTES) {
    throw quotaExceeded(
      tenant,
      'storedBytes',
      quota,
      `tenant "${tenant}" has ${Math.max(0, left)} of its ${quota.storedBytes} bytes left (quota.storedBytes); this upload is ${declared} bytes`,
    );
  }
  return quota;
}
