// ComfyUI's "ddim" sampler is k-diffusion Euler (sampler_object("ddim") = ksampler("euler",
// inpaint_options={"random": True}); the option only matters with an inpaint mask). The scheduler is
// not forced to ddim_uniform, so output is identical to euler for every scheduler.
import { sampleEuler } from './euler.ts';
import type { SamplerFunction } from './types.ts';

export const sampleDdim: SamplerFunction = sampleEuler;
