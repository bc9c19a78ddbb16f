// Read-only facts about the server: node signatures, system, model files, features.
import { freemem, totalmem } from 'node:os';
import { listModels } from '../../workflow/folders.ts';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../serverContext.ts';

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
    if (!Object.hasOwn(ctx.env.modelDirs, folder)) return reply.code(404).send({ error: `unknown model folder ${folder}` });
    return listModels(ctx.env, folder);
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
      listModels({ ...ctx.env, modelDirs: { [folder]: [d] } }, folder)
        .filter((name) => !seen.has(name) && seen.add(name))
        .map((name) => ({ name, pathIndex })),
    );
  });
  app.get('/embeddings', async () => listModels(ctx.env, 'embeddings').map((n) => n.replace(/\.[^.]+$/, '')));
  app.get('/extensions', async () => []);
  // inkflow sends only plain preview frames (type 1), never the metadata variant.
  app.get('/features', async () => ({ supports_preview_metadata: false, max_upload_size: ctx.limits.maxUploadBytes }));
}
