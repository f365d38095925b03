// A webhook URL from a client (an endpoint or a job's callbackUrl), checked before it is stored:
// the URL rules and the address policy of src/webhooks/targets.ts, as a 422 naming the field.
import { ApiError } from '../errors.js';
import { TargetError } from '../errors.js';
import { parseTarget, type TargetPolicy } from '../webhooks/targets.js';

export async function checkWebhookTarget(policy: TargetPolicy, raw: string, field: string): Promise<string> {
  try {
    const url = parseTarget(raw);
    await policy.check(url);
    return url.href;
  } catch (err) {
    const why = err instanceof TargetError ? err.message : 'its host does not resolve';
    throw new ApiError('invalid-input', 422, `${field} is refused: ${why}`, field);
  }
}
