// Errors caused by the caller's input (a bad model, a bad .npz, an impossible option).
// The CLI turns them into exit code 2; the API into a 4xx problem+json naming `field`;
// the worker into a failed job that is not retried.
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    /** The input at fault, e.g. "data", "model.json", "weightsManifest[0].paths[1]", "pruning.ratio". */
    readonly field: string,
    message: string,
    /** 422 for content that is wrong; 413 for content that is too large once unpacked. */
    readonly status: 422 | 413 = 422,
  ) {
    super(message);
  }
}

/** Client text for a message, JSON-quoted and cut to `max` characters, so an upload cannot fill replies and logs. */
export function quoted(text: string, max = 32): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** Thrown when an AbortSignal fires mid-pipeline; the caller removes partial outputs. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor(message = 'cancelled') {
    super(message);
  }
}
