// `inkflow serve`: the ComfyUI-compatible HTTP + WebSocket server over a data folder.
import { startServer } from '../../server/startServer.ts';
import { inkflowWorkflow } from '../../server/inkflowWorkflow.ts';
import { MAX_CACHE_INTERVAL } from '../../pipelines/colorize/fastModes.ts';
import { type Command, UsageError } from '../command.ts';
import { parseOptions } from '../options.ts';

const HELP = `usage: inkflow serve [--port 8188] [--data DIR] [--listen 127.0.0.1] [options]

Serves ComfyUI's HTTP + WebSocket API (/prompt, /queue, /history, /view, /upload/image, /ws, …, all also
under /api/), so ComfyUI clients and the studio can queue workflows. Accepted prompts and history are
kept in DIR/inkflow.sqlite and survive a crash or restart.

options:
  --port N            TCP port (default 8188; 0 picks a free one)
  --data DIR          data folder, laid out as ComfyUI's (models/checkpoints, models/loras,
                      models/controlnet, models/clip_vision, input/, output/, temp/); created on first
                      start (default ./inkflow-data)
  --listen ADDR       address to bind (default 127.0.0.1). Anything but loopback requires --token
  --token T           require "Authorization: Bearer T" (or ?token=T) on every request and WebSocket
                      (also read from INKFLOW_TOKEN)
  --models DIR        also look for models in an existing ComfyUI (models/) or A1111 (models/ with
                      Stable-diffusion, Lora, ControlNet) folder
  --redis URL         queue prompts in Redis (BullMQ) for \`inkflow worker\` processes instead of
                      running them in this process
  --max-upload-mb N   largest upload / request body (default 100)
  --max-pixels N      largest accepted image in pixels, checked before decoding (default 67108864)
  --device cpu|cuda   execution provider for model nodes (default cpu)
  --int8 NAMES        compile these checkpoints int8 (comma-separated names as the loaders list them,
                      or '*' for all): faster, lossy (≈2 % UNet output error measured); default none
  --cache-steps N     KSampler step caching: full UNet every N steps (and the first and last); lossy
  --tokenizer DIR     CLIP tokenizer tables (vocab.json + merges.txt) for single-file checkpoints
                      (default: INKFLOW_TOKENIZER, the model folder, or the Hugging Face cache)
  --no-studio         serve only the ComfyUI API (by default the comic studio is served at /, built
                      on first start)
  -h, --help          this help`;

export function positiveNumber(name: string, v: string | undefined, fallback: number, integer = true): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x < 0 || (integer && !Number.isInteger(x))) {
    throw new UsageError(`--${name} must be a non-negative ${integer ? 'integer' : 'number'}, got "${v}"`);
  }
  return x;
}

export function parseDevice(v: string | undefined): 'cpu' | 'cuda' | undefined {
  if (v === undefined || v === 'cpu' || v === 'cuda') return v;
  throw new UsageError(`--device must be cpu or cuda, got "${v}"`);
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'ComfyUI-compatible HTTP + WebSocket server with a durable queue (--redis for workers)',
  help: HELP,
  async run(argv) {
    const { values: v } = parseOptions('serve', argv, {
      port: { type: 'string' },
      data: { type: 'string' },
      listen: { type: 'string' },
      token: { type: 'string' },
      models: { type: 'string' },
      redis: { type: 'string' },
      'max-upload-mb': { type: 'string' },
      'max-pixels': { type: 'string' },
      device: { type: 'string' },
      int8: { type: 'string' },
      'cache-steps': { type: 'string' },
      tokenizer: { type: 'string' },
      'no-studio': { type: 'boolean' },
    });
    const port = positiveNumber('port', v.port, 8188);
    if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
    const server = await startServer({
      dataDir: v.data ?? 'inkflow-data',
      workflow: inkflowWorkflow,
      host: v.listen ?? '127.0.0.1',
      port,
      token: v.token ?? process.env.INKFLOW_TOKEN,
      modelsDir: v.models,
      redisUrl: v.redis,
      device: parseDevice(v.device),
      int8Models: v.int8 ? v.int8.split(',').map((m) => m.trim()).filter(Boolean) : undefined,
      cacheSteps: v['cache-steps'] === undefined ? undefined : cacheInterval(v['cache-steps']),
      tokenizerDir: v.tokenizer,
      studio: !v['no-studio'],
      limits: {
        maxUploadBytes: Math.round(positiveNumber('max-upload-mb', v['max-upload-mb'], 100, false) * 1024 * 1024),
        maxImagePixels: positiveNumber('max-pixels', v['max-pixels'], 64 * 1024 * 1024),
      },
      argv: ['inkflow', 'serve', ...argv.map((a, i) => (argv[i - 1] === '--token' ? '<token>' : a))],
    });
    const { requeued, failed } = server.recovered;
    if (requeued.length) console.log(`inkflow serve: ${requeued.length} prompt(s) cut off by the last stop run again`);
    if (failed.length) console.log(`inkflow serve: ${failed.length} prompt(s) cut off twice recorded as errors`);
    console.log(`inkflow serve: listening on ${server.url} (data ${server.data.root}${v.redis ? `, queue in ${v.redis}` : ''})`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void server.close().then(resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    return 0;
  },
};

function cacheInterval(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_CACHE_INTERVAL) throw new UsageError(`--cache-steps must be an integer in [1, ${MAX_CACHE_INTERVAL}], got "${text}"`);
  return n;
}
