// `npm run bench:api [-- --mb 500 --runs 3]`: a large .npz uploaded to a real API process
// (`node dist/src/service.js api`, its own redis-server and DATA_DIR), timed from the first byte
// sent to the 201, while the API's resident memory is sampled. The targets: throughput ≥ 300 MB/s
// and a peak RSS rise < 150 MB (uploads are streamed to disk and inspected in a sandboxed child,
// whose memory is its own). The same client also feeds a bare Node HTTP server that only writes
// the body to disk, the ceiling of this machine for the transfer. Writes bench/results/upload-<YYYY-MM-DD>.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Zip, ZipPassThrough } from 'fflate';
import { encodeNpy } from '../src/io/npz-write.js';
import { seededRandom } from '../src/io/random.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const MB = Number(option('--mb', '500'));
const RUNS = Number(option('--runs', '3'));
const outDir = option('--out', 'bench/results');
const SERVICE = fileURLToPath(new URL('../src/service.js', import.meta.url));
const log = (s: string) => console.error(s);

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** np.savez-style (stored) .npz of float32 x [n, 1024] and int32 y [n], written in 4 MiB pieces. */
async function writeNpz(path: string, megabytes: number): Promise<number> {
  const cols = 1024;
  const n = Math.ceil((megabytes * 1e6) / (cols * 4));
  const out = createWriteStream(path);
  const zip = new Zip((err, chunk) => {
    if (err) throw err;
    out.write(chunk);
  });
  const rand = seededRandom(1);
  const add = (name: string, header: Uint8Array, rows: number, row: (i: number) => Uint8Array) => {
    const member = new ZipPassThrough(name);
    zip.add(member);
    member.push(header);
    for (let i = 0; i < rows; i++) member.push(row(i), i === rows - 1);
  };
  const rowsPerPiece = 1024;
  const pieces = Math.ceil(n / rowsPerPiece);
  const xHeader = encodeNpy({ data: new Float32Array(0), shape: [n, cols] });
  add('x.npy', xHeader, pieces, (p) => {
    const rows = Math.min(rowsPerPiece, n - p * rowsPerPiece);
    const piece = new Float32Array(rows * cols);
    for (let k = 0; k < piece.length; k++) piece[k] = rand();
    return new Uint8Array(piece.buffer);
  });
  const y = new Int32Array(n).map((_, i) => i % 10);
  add('y.npy', encodeNpy({ data: y, shape: [n] }), 1, () => new Uint8Array(0));
  zip.end();
  await new Promise((r) => out.end(r));
  return n;
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)![1]) * 1024;
}

/** POSTs `path` as the multipart field "file"; resolves with the status and the seconds taken. */
function uploadFile(port: number, path: string, bytes: number): Promise<{ status: number; seconds: number; body: string }> {
  const boundary = 'lopperbench';
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.npz"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/datasets',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': head.length + bytes + tail.length },
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, seconds: (performance.now() - t0) / 1000, body }));
      },
    );
    req.on('error', reject);
    req.write(head);
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('end', () => req.end(tail))
      .on('error', reject)
      .pipe(req, { end: false });
  });
}

// The machine's own ceiling for the same transfer: a bare Node HTTP server in another process
// that writes the body to a file and answers 201, fed by the same client.
const RAW_SERVER = `
const http = require('node:http'), fs = require('node:fs');
const srv = http.createServer((req, res) => {
  const out = fs.createWriteStream(process.argv[1]);
  req.pipe(out).on('finish', () => { res.statusCode = 201; res.end('{}'); });
}).listen(0, '127.0.0.1', () => process.send(srv.address().port));`;

async function rawCeiling(file: string, size: number, sink: string): Promise<number[]> {
  const server = spawn(process.execPath, ['-e', RAW_SERVER, sink], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  try {
    const port = await new Promise<number>((resolve) => server.once('message', (p) => resolve(p as number)));
    const rates: number[] = [];
    for (let r = 0; r < RUNS; r++) rates.push(size / 1e6 / (await uploadFile(port, file, size)).seconds);
    return rates;
  } finally {
    server.kill();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const dir = await mkdtemp(join(os.tmpdir(), 'lopper-bench-upload-'));
  const procs: ChildProcess[] = [];
  try {
    const file = join(dir, 'big.npz');
    log(`writing a ${MB} MB .npz ...`);
    const samples = await writeNpz(file, MB);
    const { size } = await stat(file);

    const redisPort = await freePort();
    procs.push(spawn('redis-server', ['--port', String(redisPort), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
    const port = await freePort();
    const api = spawn(process.execPath, [SERVICE, 'api'], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        DATA_DIR: join(dir, 'data'),
        LOG_LEVEL: 'warn',
        MAX_UPLOAD_BYTES: String(4 * size),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    procs.push(api);
    for (let i = 0; ; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (i > 200) throw new Error('the API did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    // A small upload first: the inspector child starts, and the API's code paths are warm.
    const small = join(dir, 'small.npz');
    await writeNpz(small, 1);
    const warm = await uploadFile(port, small, (await stat(small)).size);
    if (warm.status !== 201) throw new Error(`warm-up upload: ${warm.status} ${warm.body}`);

    const runs: { seconds: number; mbPerSec: number; rssRiseMb: number }[] = [];
    for (let r = 0; r < RUNS; r++) {
      const base = await rssOf(api.pid!);
      let peak = base;
      const sampler = setInterval(
        () =>
          rssOf(api.pid!).then(
            (v) => (peak = Math.max(peak, v)),
            () => undefined,
          ),
        20,
      );
      const res = await uploadFile(port, file, size);
      clearInterval(sampler);
      peak = Math.max(peak, await rssOf(api.pid!));
      if (res.status !== 201) throw new Error(`upload: ${res.status} ${res.body.slice(0, 300)}`);
      const run = { seconds: res.seconds, mbPerSec: size / 1e6 / res.seconds, rssRiseMb: (peak - base) / 1e6 };
      log(
        `run ${r + 1}: ${run.seconds.toFixed(2)} s, ${run.mbPerSec.toFixed(0)} MB/s, API RSS +${run.rssRiseMb.toFixed(0)} MB (from ${(base / 1e6).toFixed(0)} MB)`,
      );
      runs.push(run);
      const id = JSON.parse(res.body).id as string;
      await fetch(`http://127.0.0.1:${port}/v1/datasets/${id}`, { method: 'DELETE' });
    }
    const raw = await rawCeiling(file, size, join(dir, 'sink.bin'));
    log(`bare HTTP-to-disk ceiling: ${raw.map((r) => r.toFixed(0)).join(', ')} MB/s`);
    const result = {
      kind: 'upload',
      date: new Date().toISOString(),
      host: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
      file: { bytes: size, samples, format: 'stored .npz, float32 x [n, 1024] + int32 y' },
      runs,
      median: {
        seconds: median(runs.map((r) => r.seconds)),
        mbPerSec: median(runs.map((r) => r.mbPerSec)),
        rssRiseMb: median(runs.map((r) => r.rssRiseMb)),
        rawCeilingMbPerSec: median(raw),
      },
      rawCeilingMbPerSec: raw,
      targets: { mbPerSec: 300, rssRiseMb: 150 },
    };
    await mkdir(outDir, { recursive: true });
    const out = join(outDir, `upload-${result.date.slice(0, 10)}.json`);
    await writeFile(out, JSON.stringify(result, null, 2) + '\n');
    console.log(JSON.stringify(result.median));
    log(`wrote ${out}`);
  } finally {
    for (const p of procs.reverse()) p.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
