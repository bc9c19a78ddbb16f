// ControlNetConditioningEmbedding (diffusers ControlNet; SDRO's `controlnet_cond_embedding`):
// conv_in → SiLU, then per stage a 3×3 conv → SiLU and a 3×3 stride-2 conv → SiLU (blocks.0..2n−1),
// then conv_out (zero-initialised in training, so an untrained embedding adds nothing).
import type { Tensor } from '../../graph/graph.ts';
import * as nn from '../../graph/nn.ts';

/** cond [B,C,H,W] → [B,outChannels,H/2^(n−1),W/2^(n−1)] with n = blockChannels.length. */
export function conditioningEmbedding(cond: Tensor, blockChannels: readonly number[], outChannels: number): Tensor {
  const g = cond.graph;
  let h = nn.silu(nn.conv2d(cond, 'conv_in', cond.shape[1], blockChannels[0], 3));
  for (let i = 0; i < blockChannels.length - 1; i++) {
    const cin = blockChannels[i];
    const cout = blockChannels[i + 1];
    h = g.within('blocks', () => nn.silu(nn.conv2d(h, String(2 * i), cin, cin, 3)));
    h = g.within('blocks', () => nn.silu(nn.conv2d(h, String(2 * i + 1), cin, cout, 3, { stride: 2 })));
  }
  return nn.conv2d(h, 'conv_out', blockChannels[blockChannels.length - 1], outChannels, 3);
}

/** How much larger than the latent the conditioning image must be: 2^(stages). */
export function conditioningScale(blockChannels: readonly number[]): number {
  return 2 ** (blockChannels.length - 1);
}
