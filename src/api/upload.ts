// Multipart uploads streamed straight to a fresh temp folder (never whole files in memory).
// Files are told apart by their filename, not their field name, so `-F files=@a -F files=@b`
// and `-F model=@a -F w=@b` both work. The total of all parts is capped at MAX_UPLOAD_BYTES (413);
// on any failure the folder is deleted before the error propagates.
import { MAX_ZIP_MEMBERS } from '../io/model-zip.js';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import { ApiError, clip } from '../errors.js';

export interface UploadedFile {
  /** The sanitised basename the client gave. */
  name: string;
  field: string;
  path: string;
  bytes: number;
  /** Hex sha256, computed as the file streamed in; null when the caller has it computed elsewhere. */
  sha256: string | null;
}

export interface Upload {
  dir: string;
  files: UploadedFile[];
  fields: Record<string, string>;
  /** Deletes the temp folder and whatever is left in it. */
  discard(): Promise<void>;
}

/** Basename of a client-supplied filename; rejects names that are empty or could mean a path. */
export function safeName(filename: string, field: string): string {
  const base = filename.split(/[\\/]/).pop() ?? '';
  if (!base || base === '.' || base === '..' || /[\x00-\x1f]/.test(base) || base.length > 255) {
    throw new ApiError(
      'bad-request',
      400,
      `file in field "${clip(field)}" has no usable filename (${clip(JSON.stringify(filename))})`,
      field,
    );
  }
  return base;
}

/** Files one upload may hold, as many as a model .zip may (real models have a few shards). */
export const MAX_UPLOAD_FILES = MAX_ZIP_MEMBERS;

/** A route hook: the body must be multipart; anything else is 415 before any body parser runs. */
export async function requireMultipart(req: FastifyRequest): Promise<void> {
  // The header itself: @fastify/multipart's isMultipart() is only set once its parser has run.
  if (!/^multipart\/form-data\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    throw new ApiError('unsupported-media-type', 415, 'expected a multipart/form-data body', 'Content-Type');
  }
}

export const tooLarge = (max: number) => new ApiError('payload-too-large', 413, `upload exceeds MAX_UPLOAD_BYTES (${max} bytes)`, 'body');

export async function receiveUpload(
  req: FastifyRequest,
  opts: { tmpDir: string; maxBytes: number; fields: readonly string[]; live: Set<string>; hash: boolean },
): Promise<Upload> {
  await requireMultipart(req);
  const dir = await mkdtemp(join(opts.tmpDir, 'upload-'));
  // Marked live so the tmp sweeper leaves it alone until the request is done with it.
  opts.live.add(basename(dir));
  const discard = async () => {
    await rm(dir, { recursive: true, force: true });
    opts.live.delete(basename(dir));
  };
  const upload: Upload = { dir, files: [], fields: {}, discard };
  let total = 0;
  // A client that goes away mid-body (or is cut off as too slow) does not always end busboy's
  // iteration; this ends it, and the file being written, so the folder is removed at once.
  const gone = new AbortController();
  const onClose = () => {
    if (!req.raw.complete)
      gone.abort(new ApiError('bad-request', 400, 'the client closed the connection before the body was complete', 'body'));
  };
  // The request's own 'close' is not emitted once Node has dumped a body whose reply went out
  // (the 408 of a too-slow client); the socket's is.
  req.raw.once('close', onClose);
  req.raw.socket?.once('close', onClose);
  const aborted = new Promise<never>((_, reject) => gone.signal.addEventListener('abort', () => reject(gone.signal.reason)));
  aborted.catch(() => undefined);
  try {
    const iterable = req.parts({ limits: { fileSize: opts.maxBytes, files: MAX_UPLOAD_FILES, fields: 16, fieldSize: 4096 } });
    const parts = iterable[Symbol.asyncIterator]();
    for (;;) {
      const next = await Promise.race([parts.next(), aborted]);
      if (next.done) break;
      const part = next.value;
      if (part.type === 'field') {
        if (!opts.fields.includes(part.fieldname)) {
          throw new ApiError(
            'bad-request',
            400,
            `unexpected form field "${clip(part.fieldname)}" (allowed: ${opts.fields.join(', ') || 'none'})`,
            part.fieldname || 'body',
          );
        }
        upload.fields[part.fieldname] = String(part.value);
        continue;
      }
      const name = safeName(part.filename, part.fieldname || 'body');
      if (upload.files.some((f) => f.name === name)) {
        throw new ApiError('invalid-input', 422, `two uploaded files are named "${name}"`, part.fieldname);
      }
      const path = join(dir, name);
      let bytes = 0;
      const hash = opts.hash ? createHash('sha256') : null;
      const count = new Transform({
        transform(chunk: Buffer, _enc, done) {
          bytes += chunk.length;
          hash?.update(chunk);
          total += chunk.length;
          done(total > opts.maxBytes ? tooLarge(opts.maxBytes) : null, chunk);
        },
      });
      await pipeline(part.file, count, createWriteStream(path), { signal: gone.signal });
      // busboy stops a single file at `fileSize` and marks it truncated rather than failing.
      if (part.file.truncated) throw tooLarge(opts.maxBytes);
      upload.files.push({ name, field: part.fieldname, path, bytes, sha256: hash?.digest('hex') ?? null });
    }
    return upload;
  } catch (err) {
    await upload.discard();
    if (gone.signal.aborted) throw gone.signal.reason;
    if (err instanceof ApiError || typeof (err as { statusCode?: number }).statusCode === 'number') throw err;
    // busboy's own errors (cut-off body, bad part headers) mean the multipart syntax is broken.
    throw new ApiError('bad-request', 400, `malformed multipart body: ${clip((err as Error).message)}`, 'body');
  } finally {
    req.raw.off('close', onClose);
    req.raw.socket?.off('close', onClose);
  }
}
