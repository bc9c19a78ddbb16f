// One origin for the browser: the studio (projects plugin + app) and the real `inkflow serve` API run as
// two servers in the tests until `inkflow serve` mounts the studio itself; this proxy sends /, /assets/*,
// /favicon.svg and /studio/* to the first and everything else (HTTP and the /ws upgrade) to the second.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

const STUDIO = /^\/(studio\/|assets\/|favicon\.svg|index\.html|$|\?|#)/;

export async function startFrontProxy(studioUrl: string, apiUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  const pick = (path: string) => new URL(STUDIO.test(path) ? studioUrl : apiUrl);
  const server = http.createServer((req, res) => {
    const t = pick(req.url ?? '/');
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  server.on('upgrade', (req, socket, head) => {
    const t = pick(req.url ?? '/');
    const up = net.connect(Number(t.port), t.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    const drop = () => {
      up.destroy();
      socket.destroy();
    };
    up.on('error', drop);
    socket.on('error', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
