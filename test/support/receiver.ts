// A real HTTP receiver on 127.0.0.1 for the webhook tests: it records every request and answers
// each path as the test scripts it (by how many times that path was hit).
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Answers the n-th request (1-based) to a path; paths without a script answer 200. */
export type Script = (res: ServerResponse, n: number) => void;

export interface Receiver {
  base: string;
  port: number;
  got(path: string): Received[];
  script(path: string, fn: Script): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const scripts = new Map<string, Script>();
  const server = createServer(async (req, res) => {
    const path = req.url ?? '/';
    const body = await text(req);
    received.push({ path, headers: req.headers, body });
    const n = received.filter((r) => r.path === path).length;
    const script = scripts.get(path);
    if (script) script(res, n);
    else res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    got: (path) => received.filter((r) => r.path === path),
    script: (path, fn) => void scripts.set(path, fn),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
