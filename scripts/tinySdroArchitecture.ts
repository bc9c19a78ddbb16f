// The bundled tiny SDRO model's shape: 128² pictures, the tiny VAE's 32² × 4 latents (f = 4, so the
// blueprint embedding has two stride-2 stages), a three-level UNet with cross-attention to the
// reference tokens at 16² and 8², and a 2-layer ViT on 64² reference pictures (8-px patches → 65 tokens).
import { sdroArchitecture } from '../src/train/sdroModelFiles.ts';

export const TINY_SDRO_IMAGE_SIZE = 128;

export const TINY_SDRO_ARCH = sdroArchitecture({
  unet: {
    _class_name: 'UNet2DDobuleConditionModel', _diffusers_version: '0.21.0',
    sample_size: 32, in_channels: 4, out_channels: 4, layers_per_block: 1,
    block_out_channels: [32, 64, 96],
    down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
    up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
    cross_attention_dim: 64, attention_head_dim: 4, norm_num_groups: 8, norm_eps: 1e-5,
    conditioning_channels: 3, conditioning_embedding_out_channels: [16, 32, 64],
    flip_sin_to_cos: true, freq_shift: 0, act_fn: 'silu', use_linear_projection: false,
  },
  vision: {
    architectures: ['CLIPVisionModel'], model_type: 'clip_vision_model', hidden_size: 64, intermediate_size: 128,
    num_attention_heads: 4, num_hidden_layers: 2, image_size: 64, patch_size: 8, num_channels: 3,
    hidden_act: 'quick_gelu', layer_norm_eps: 1e-5, projection_dim: 64, torch_dtype: 'float32',
  },
  processor: {
    crop_size: { height: 64, width: 64 }, do_center_crop: true, do_convert_rgb: true, do_normalize: true, do_rescale: true,
    do_resize: true, feature_extractor_type: 'CLIPFeatureExtractor', image_processor_type: 'CLIPImageProcessor',
    image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: [0.26862954, 0.26130258, 0.27577711],
    resample: 3, rescale_factor: 1 / 255, size: { shortest_edge: 64 },
  },
  scheduler: {
    _class_name: 'DDPMScheduler', _diffusers_version: '0.21.0', beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear',
    clip_sample: false, num_train_timesteps: 1000, prediction_type: 'epsilon', set_alpha_to_one: false, steps_offset: 1,
    timestep_spacing: 'leading', trained_betas: null, variance_type: 'fixed_small', thresholding: false,
  },
});

/** ControlNet-style: the blueprint embedding's last conv starts at zero (adds nothing until trained). */
export const tinySdroZeroInit = (name: string): boolean => name.startsWith('unet.controlnet_cond_embedding.conv_out.');
