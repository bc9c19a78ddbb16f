// Real released UNet configs (the fields that matter), for tests that build full-size graphs.

/** runwayml/stable-diffusion-v1-5 unet/config.json. */
export const SD15_CONFIG = {
  _class_name: 'UNet2DConditionModel',
  act_fn: 'silu',
  attention_head_dim: 8,
  block_out_channels: [320, 640, 1280, 1280],
  center_input_sample: false,
  cross_attention_dim: 768,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  downsample_padding: 1,
  flip_sin_to_cos: true,
  freq_shift: 0,
  in_channels: 4,
  layers_per_block: 2,
  mid_block_scale_factor: 1,
  norm_eps: 1e-5,
  norm_num_groups: 32,
  out_channels: 4,
  sample_size: 64,
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
};

/** stabilityai/stable-diffusion-2-1 unet/config.json. */
export const SD21_CONFIG = {
  ...SD15_CONFIG,
  attention_head_dim: [5, 10, 20, 20],
  cross_attention_dim: 1024,
  dual_cross_attention: false,
  num_class_embeds: null,
  only_cross_attention: false,
  sample_size: 96,
  upcast_attention: true,
  use_linear_projection: true,
};

/** stabilityai/stable-diffusion-xl-base-1.0 unet/config.json. */
export const SDXL_CONFIG = {
  ...SD15_CONFIG,
  attention_head_dim: [5, 10, 20],
  block_out_channels: [320, 640, 1280],
  cross_attention_dim: 2048,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
  transformer_layers_per_block: [1, 2, 10],
  use_linear_projection: true,
  addition_embed_type: 'text_time',
  addition_time_embed_dim: 256,
  projection_class_embeddings_input_dim: 2816,
  sample_size: 128,
};
