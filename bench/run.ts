// `npm run bench [-- suite…]`: runs the named suites (default: engine).
const suites: Record<string, () => Promise<unknown>> = {
  engine: async () => (await import('./engine.ts')).runEngineBench(),
  unet: async () => (await import('./models.ts')).runUNetBench(),
  txt2img: async () => (await import('./txt2img.ts')).runTxt2imgBench(),
  colorize: async () => (await import('./colorize.ts')).runColorizeBench(),
  flat: async () => { const f = await import('./flat.ts'); return f.runFlatBench({ match: f.matcherFromArgs() }); },
  lowerings: async () => (await import('./lowerings.ts')).runLoweringsBench(),
  fuzz: async () => (await import('./fuzz.ts')).runFuzzBench(),
  train: async () => (await import('./train.ts')).runTrainBench(process.env.INKFLOW_BENCH_CASE),
  sdxl: async () => (await import('./sdxl.ts')).runSdxlBench(),
  server: async () => (await import('./server.ts')).runServerBench(),
  preview: async () => (await import('./preview.ts')).runPreviewBench(),
  startup: async () => (await import('./startup.ts')).runStartupBench(),
  int8: async () => (await import('./int8Unet.ts')).runInt8UNetBench(),
  int8kernels: async () => (await import('./int8Kernels.ts')).runInt8KernelBench(),
  int8attention: async () => (await import('./int8Attention.ts')).runInt8AttentionBench(),
  bundled: async () => (await import('./bundled.ts')).runBundledBench(),
  'sdro-eval': async () => (await import('./sdroEval.ts')).runSdroEval(),
};

const requested = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = requested.length ? requested : ['engine'];
for (const name of names) {
  const suite = suites[name];
  if (!suite) {
    console.error(`unknown bench suite "${name}"; available: ${Object.keys(suites).join(', ')}`);
    process.exit(2);
  }
  console.log(`# ${name}`);
  await suite();
}
