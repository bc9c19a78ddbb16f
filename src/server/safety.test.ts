// Files stay inside their folders, uploads are bounded in bytes and pixels (a decompression bomb is
// refused from its header), and a server reachable from the network needs a token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import WebSocket from 'ws';
import type { RunningServer } from './startServer.ts';
import { cleanupAll, getJson, openWs, postJson, solidPng, spawnInkflow, startTestServer, tempDir, uploadImage } from '../../test/server/harness.ts';

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** A valid PNG header claiming width × height grey pixels, with only one row of (zero) data: a few hundred bytes. */
function pngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(width + 1))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

let server: RunningServer;
let outside: string;
beforeAll(async () => {
  server = await startTestServer({ limits: { maxUploadBytes: 64 * 1024, maxImagePixels: 1_000_000 } });
  outside = tempDir('inkflow-outside-');
  writeFileSync(join(outside, 'secret.png'), await solidPng(4, 4, [1, 2, 3]));
  symlinkSync(outside, join(server.data.outputDir, 'escape'));
  symlinkSync(outside, join(server.data.inputDir, 'escape'));
});
afterAll(async () => {
  await server.close();
  cleanupAll();
});

describe('names stay inside their folders', () => {
  it('/view refuses .., absolute names, escaping subfolders and symlinks out of the folder', async () => {
    const cases: [string, number][] = [
      ['filename=../../../../etc/passwd&type=output', 400],
      ['filename=..%2Fsecret.png&type=output', 400],
      ['filename=/etc/passwd&type=output', 400],
      ['filename=passwd&subfolder=../../../../etc&type=output', 403],
      ['filename=passwd&subfolder=/etc&type=input', 403],
      ['filename=secret.png&subfolder=escape&type=output', 403],
      ['filename=escape/secret.png&type=input', 403],
      ['filename=secret.png&type=nope', 400],
    ];
    for (const [q, status] of cases) {
      for (const prefix of ['', '/api']) {
        const res = await fetch(`${server.url}${prefix}/view?${q}`);
        expect(res.status, q).toBe(status);
        expect((await res.arrayBuffer()).byteLength, q).toBe(0);
      }
    }
  });

  it('uploads refuse escaping subfolders and names, and write nothing outside', async () => {
    const png = await solidPng(8, 8, [9, 9, 9]);
    for (const [name, fields] of [
      ['a.png', { subfolder: '../..' }],
      ['a.png', { subfolder: '/tmp' }],
      ['a.png', { subfolder: 'escape' }],
      ['../a.png', {}],
      ['sub/a.png', {}],
      ['a.png', { type: 'models' }],
    ] as [string, Record<string, string>][]) {
      const res = await uploadImage(server.url, name, png, fields);
      expect(res.status, `${name} ${JSON.stringify(fields)}`).toBe(400);
      const mask = await uploadImage(server.url, name, png, { ...fields, original_ref: JSON.stringify({ filename: 'x.png' }) }, '/upload/mask');
      expect(mask.status).toBe(400);
    }
    expect(readdirSync(outside)).toEqual(['secret.png']);
    expect(existsSync(join(server.data.root, 'a.png'))).toBe(false);
  });

  it('a prompt naming a file outside input/ is refused before it runs', async () => {
    for (const image of ['../../etc/passwd', '/etc/passwd', 'escape/secret.png']) {
      const res = await postJson(server.url, '/prompt', {
        prompt: {
          '1': { class_type: 'LoadImage', inputs: { image } },
          '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'x' } },
        },
      });
      expect(res.status, image).toBe(400);
    }
    expect((await getJson(server.url, '/queue')).json.queue_pending).toEqual([]);
  });
});

describe('limits', () => {
  it('refuses an upload above the byte limit with 413 and writes nothing', async () => {
    const big = Buffer.concat([await solidPng(8, 8, [0, 0, 0]), Buffer.alloc(100 * 1024, 7)]);
    const res = await uploadImage(server.url, 'big.png', big);
    expect(res.status).toBe(413);
    expect(existsSync(join(server.data.inputDir, 'big.png'))).toBe(false);
  });

  it('refuses a decompression bomb from its header (413), before decoding', async () => {
    const bomb = pngBomb(50_000, 50_000); // 2.5 gigapixels in a few hundred bytes
    expect(bomb.length).toBeLessThan(64 * 1024);
    const res = await uploadImage(server.url, 'bomb.png', bomb);
    expect(res.status).toBe(413);
    expect(res.text).toMatch(/50000×50000.*above the limit of 1000000/);
    expect(existsSync(join(server.data.inputDir, 'bomb.png'))).toBe(false);
    // Just under the limit is accepted.
    const ok = await uploadImage(server.url, 'ok.png', await solidPng(1000, 1000, [5, 5, 5]));
    expect(ok.status).toBe(200);
  });

  it('refuses a body that is not an image', async () => {
    const res = await uploadImage(server.url, 'text.png', Buffer.from('not a png at all'));
    expect(res.status).toBe(400);
  });
});

describe('tokens', () => {
  it('refuses to listen beyond loopback without a token, and says how to fix it', async () => {
    await expect(startTestServer({ host: '0.0.0.0' })).rejects.toThrow(/without --token/);
    const cli = spawnInkflow(['serve', '--listen', '0.0.0.0', '--port', '0', '--data', tempDir()]);
    await cli.waitForOutput(/refusing to listen on 0\.0\.0\.0 without --token/);
    await new Promise((r) => cli.proc.once('exit', r));
    expect(cli.proc.exitCode).not.toBe(0);
  });

  it('with --token, every route and the WebSocket need it (bearer or ?token=)', async () => {
    const guarded = await startTestServer({ token: 'sekrit-t0ken', host: '127.0.0.1' });
    try {
      expect((await fetch(`${guarded.url}/queue`)).status).toBe(401);
      expect((await fetch(`${guarded.url}/api/object_info`)).status).toBe(401);
      expect((await fetch(`${guarded.url}/queue`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await fetch(`${guarded.url}/queue`, { headers: { authorization: 'Bearer sekrit-t0ken' } })).status).toBe(200);
      expect((await fetch(`${guarded.url}/queue?token=sekrit-t0ken`)).status).toBe(200);
      const refused = new WebSocket(`${guarded.url.replace('http', 'ws')}/ws?clientId=x`);
      const err = await new Promise<Error>((res) => refused.once('error', res));
      expect(err.message).toMatch(/401/);
      const ws = await openWs(guarded.url, 'tok', 'sekrit-t0ken');
      const status = await ws.waitFor((m) => m.type === 'status', 'status');
      expect(status.data.sid).toBe('tok');
      ws.close();
    } finally {
      await guarded.close();
    }
  });
});

describe('data folder', () => {
  it('is created with ComfyUI\'s layout, and --models adds an A1111 folder', async () => {
    const a1111 = tempDir('inkflow-a1111-');
    mkdirSync(join(a1111, 'Stable-diffusion', 'sd15'), { recursive: true });
    writeFileSync(join(a1111, 'Stable-diffusion', 'sd15', 'tiny.safetensors'), 'x');
    mkdirSync(join(a1111, 'Lora'));
    writeFileSync(join(a1111, 'Lora', 'ink.safetensors'), 'x');
    writeFileSync(join(a1111, 'Lora', 'notes.txt'), 'x');
    const data = tempDir();
    const s = await startTestServer({ dataDir: data, modelsDir: a1111 });
    try {
      for (const d of ['models/checkpoints', 'models/loras', 'models/controlnet', 'models/clip_vision', 'input', 'output', 'temp']) {
        expect(existsSync(join(data, d)), d).toBe(true);
      }
      expect(existsSync(join(data, 'inkflow.sqlite'))).toBe(true);
      writeFileSync(join(data, 'models/checkpoints/own.safetensors'), 'x');
      // the bundled default model after the user's own files, under a name no file has
      expect((await getJson(s.url, '/models/checkpoints')).json).toEqual(['own.safetensors', 'sd15/tiny.safetensors', 'default (bundled)']);
      expect((await getJson(s.url, '/models/loras')).json).toEqual(['ink.safetensors']);
      expect((await getJson(s.url, '/models')).json).toContain('controlnet');
      expect((await fetch(`${s.url}/models/nope`)).status).toBe(404);
    } finally {
      await s.close();
    }
  });
});
