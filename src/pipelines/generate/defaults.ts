// A generation's defaults, in one place: generate()'s resolveSettings, the CLI and the KSampler /
// EmptyLatentImage / VAEEncodeForInpaint node declarations (whose defaults are ComfyUI's) all read these.
// The sampler and scheduler are inkflow's choice (the comic study's dpmpp_2m + karras); ComfyUI's
// KSampler has no default for them.
export const GENERATE_DEFAULTS = {
  steps: 20,
  cfg: 8,
  sampler: 'dpmpp_2m',
  scheduler: 'karras',
  width: 512,
  height: 512,
  batch: 1,
  denoise: 1,
  clipSkip: 1,
  growMaskBy: 6,
} as const;
