// `inkflow worker`: one process per GPU or machine, pulling prompts that `inkflow serve --redis` queued.
import { startWorker } from '../../server/redis/redisWorker.ts';
import { inkflowWorkflow } from '../../server/inkflowWorkflow.ts';
import { type Command, UsageError } from '../command.ts';
import { parseOptions } from '../options.ts';
import { parseDevice, positiveNumber } from './serve.ts';

const HELP = `usage: inkflow worker --redis URL --data DIR [options]

Runs prompts queued by \`inkflow serve --redis URL\`: progress and previews stream back to the
server's WebSocket clients, outputs are written to DIR (the server's data folder, shared, e.g. over NFS).
Start one per GPU or machine; each takes one prompt at a time.

options:
  --redis URL         the Redis the server queues into (e.g. redis://127.0.0.1:6379)
  --data DIR          the server's data folder (input/, output/, temp/, models/)
  --models DIR        also look for models in an existing ComfyUI or A1111 models folder
  --max-pixels N      largest image in pixels (default 67108864)
  --device cpu|cuda   execution provider for model nodes (default cpu)
  --tokenizer DIR     CLIP tokenizer tables (vocab.json + merges.txt) for single-file checkpoints
                      (default: INKFLOW_TOKENIZER, the model folder, or the Hugging Face cache)
  --name NAME         worker name in logs
  -h, --help          this help`;

export const workerCommand: Command = {
  name: 'worker',
  summary: 'run prompts queued in Redis by `inkflow serve --redis` (scale-out)',
  help: HELP,
  async run(argv) {
    const { values: v } = parseOptions('worker', argv, {
      redis: { type: 'string' },
      data: { type: 'string' },
      models: { type: 'string' },
      'max-pixels': { type: 'string' },
      device: { type: 'string' },
      tokenizer: { type: 'string' },
      name: { type: 'string' },
    });
    if (!v.redis) throw new UsageError('--redis URL is required');
    if (!v.data) throw new UsageError('--data DIR is required (the server\'s data folder)');
    const worker = await startWorker({
      redisUrl: v.redis,
      dataDir: v.data,
      modelsDir: v.models,
      workflow: inkflowWorkflow,
      device: parseDevice(v.device),
      tokenizerDir: v.tokenizer,
      limits: { maxImagePixels: positiveNumber('max-pixels', v['max-pixels'], 64 * 1024 * 1024) },
      name: v.name,
      onJobDone: (id, status) => console.log(`inkflow worker${v.name ? ` ${v.name}` : ''}: ran ${id} (${status})`),
    });
    console.log(`inkflow worker${v.name ? ` ${v.name}` : ''}: waiting for prompts on ${v.redis} (data ${v.data})`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void worker.close().then(resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    return 0;
  },
};
