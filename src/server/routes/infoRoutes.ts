// Read-only facts about the server: node signatures, system, model files, features.
import { freemem, totalmem } from 'node:os';
import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../serverContext.ts';

const MODEL_EXTENSIONS = /\.(safetensors|sft|ckpt|pt|pth|bin|onnx|gguf)$/i;

/** Model files under every folder of one kind, as ComfyUI lists them: relative, "/"-separated, sorted. */
export function listModelFiles(dirs: readonly string[]): string[] {
  const names = new Set<string>();
  const walk = (root: string, dir: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      if (e.isDirectory() && depth < 8) walk(root, p, depth + 1);
      else if (e.isFile() && MODEL_EXTENSIONS.test(e.name)) names.add(relative(root, p).split(sep).join('/'));
    }
  };
  for (const d of dirs) walk(d, d, 0);
  return [...names].sort();
}

export function infoRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/object_info', async () => ctx.workflow.objectInfo(ctx.env));
  app.get('/object_info/:nodeClass', async (req) => {
    const { nodeClass } = req.params as { nodeClass: string };
    const all = ctx.workflow.objectInfo(ctx.env);
    return Object.hasOwn(all, nodeClass) ? { [nodeClass]: all[nodeClass] } : {};
  });

  app.get('/system_stats', async () => {
    const total = totalmem();
    const free = freemem();
    const device = ctx.env.device ?? 'cpu';
    return {
      system: {
        os: process.platform === 'win32' ? 'nt' : 'posix',
        ram_total: total,
        ram_free: free,
        comfyui_version: '0.3.64',
        inkflow_version: process.env.npm_package_version ?? '0.1.0',
        required_frontend_version: '',
        installed_templates_version: null,
        required_templates_version: '',
        python_version: `node ${process.versions.node}`,
        pytorch_version: 'onnxruntime',
        embedded_python: false,
        argv: ctx.argv,
      },
      devices: [
        { name: device, type: device, index: null, vram_total: total, vram_free: free, torch_vram_total: total, torch_vram_free: free },
      ],
    };
  });

  app.get('/models', async () => Object.keys(ctx.env.modelDirs));
  app.get('/models/:folder', async (req, reply) => {
    const { folder } = req.params as { folder: string };
    const dirs = Object.hasOwn(ctx.env.modelDirs, folder) ? ctx.env.modelDirs[folder] : undefined;
    if (!dirs) return reply.code(404).send({ error: `unknown model folder ${folder}` });
    return listModelFiles(dirs);
  });
  // ComfyUI's newer model listing (used by the frontend and some clients): folders with their paths, and
  // files with the index of the folder they were found in.
  app.get('/experiment/models', async () => Object.entries(ctx.env.modelDirs).map(([name, folders]) => ({ name, folders })));
  app.get('/experiment/models/:folder', async (req, reply) => {
    const { folder } = req.params as { folder: string };
    const dirs = Object.hasOwn(ctx.env.modelDirs, folder) ? ctx.env.modelDirs[folder] : undefined;
    if (!dirs) return reply.code(404).send({ error: `unknown model folder ${folder}` });
    const seen = new Set<string>();
    return dirs.flatMap((d, pathIndex) =>
      listModelFiles([d]).filter((name) => !seen.has(name) && seen.add(name)).map((name) => ({ name, pathIndex })),
    );
  });
  app.get('/embeddings', async () => listModelFiles(ctx.env.modelDirs.embeddings ?? []).map((n) => n.replace(/\.[^.]+$/, '')));
  app.get('/extensions', async () => []);
  // inkflow sends only plain preview frames (type 1), never the metadata variant.
  app.get('/features', async () => ({ supports_preview_metadata: false, max_upload_size: ctx.limits.maxUploadBytes }));
}
