// The model card (README.md) of the bundled text-to-image model, filled in from the run.
export interface T2iCardFacts {
  step: number;
  batch: number;
  images: number;
  seed: number;
  lr: number;
  scaling: number;
  vaeId: string;
  wallSeconds?: number;
  meanLoss: number;
  params: number;
  unet: Record<string, unknown>;
  text: Record<string, unknown>;
  vocabSize: number;
  /** How the run started when it was warm-started from another run's parameters. */
  initNote?: string;
  /** The ε high-noise loss weight's cap (--high-noise-weight), when the run used one. */
  highNoiseWeight?: number;
  /** The run folder (for the reproduction commands). */
  runDir: string;
  /** Tag accuracy lines from scripts/eval-default-t2i.ts, when measured. */
  evaluation?: string;
}

export function modelCard(f: T2iCardFacts): string {
  const wall = f.wallSeconds === undefined ? 'not recorded' : `${(f.wallSeconds / 60).toFixed(0)} min`;
  return `# inkflow default text-to-image model (tiny, tag-conditioned)

A text-to-image model small enough to ship in the repository, trained from scratch by inkflow's own
training code (src/train, ONNX training graphs run by onnxruntime) on inkflow's synthetic characters.
It draws a flat-coloured figure with black outlines on white at 128×128 from a tag prompt such as
\`red hair, blue shirt, green pants, short hair, arms up\`. It is a demonstration and test model, not an
artist: the figure is the synthetic generator's, and it knows only the words below.

## Use
\`inkflow generate --prompt "red hair, blue shirt, green pants, arms up" -o out.png\` uses it when no
\`--model\` is given (128×128). It is a diffusers folder (model_index.json, unet/, text_encoder/, vae/,
scheduler/, tokenizer/tag_vocab.json), so \`--model models/default/t2i\`, CheckpointLoaderSimple,
CLIPTextEncode, KSampler and VAEDecode run it like any SD1 checkpoint.

## Vocabulary (${f.vocabSize} tokens, tokenizer/tag_vocab.json)
Colours: red, orange, yellow, green, cyan, blue, purple, pink, brown, gray. Parts: hair, shirt, pants,
skirt. Hair length: long hair, short hair. Poses: arms up, arms out, arms down. Commas separate tags;
unknown words become \`<unk>\`. No CLIP tables are needed (or shipped).

## Architecture (${(f.params / 1e6).toFixed(2)} M parameters, fp16 weights)
- Text encoder: CLIP-style causal transformer (transformers CLIPTextModel layout), hidden ${f.text.hidden_size},
  ${f.text.num_hidden_layers} layers, ${f.text.num_attention_heads} heads, 77 positions, word-level tag tokenizer.
- UNet: diffusers UNet2DConditionModel, block_out_channels ${JSON.stringify(f.unet.block_out_channels)}, one
  layer per block, cross-attention on the two finest levels and the mid block (cross_attention_dim ${f.unet.cross_attention_dim}).
- VAE (vae/, id ${f.vaeId}, scaling_factor ${f.scaling} = 1/std of this dataset's latents): the bundled tiny VAE's
  architecture (AutoencoderKL [16, 32, 64], f = 4), but with weights SET BY HAND, not trained
  (scripts/build-thumbnail-vae.ts): encoding is 4×4 average pooling of R, G, B (a latent is a 32×32 colour
  thumbnail, 4th channel 0), decoding is nearest 4× upsampling, so pictures come out blocky. The trained
  tiny VAE (models/default/vae: 400 steps, held-out PSNR 20.7 dB) was measured for this model and not used:
  a round trip through it keeps the arm pose of the generator's own pictures (the pose measure still finds
  100 %) but not their named colours — the colour-tag measure finds 23 % after its round trip against 66 %
  after the thumbnail's (30 held-out prompts; its colours come out green and purple) — and the named colours
  are most of what a prompt asks for. Training on another VAE is \`--vae DIR\` (below).
- ε-prediction, SD's scaled_linear β schedule (0.00085–0.012, 1000 steps).

## Training data
${f.images} synthetic characters (src/imaging/synthetic/taggedCharacter.ts): hair, shirt(+sleeves) and
pants/skirt each painted in one of ten named colours, one of three arm poses, short or long hair; the caption
lists exactly these tags. One (hair, shirt, pants) colour triple in ten is held out of training
(isHeldOutCombination) for the evaluation. Captions: tag order shuffled half the time, 10 % empty
(for classifier-free guidance).

## Training
${f.initNote ? `${f.initNote}

` : ''}Steps ${f.step} at batch ${f.batch}, AdamW (lr ${f.lr}, weight decay 0.01, 200 warm-up steps, gradient
norm clipped at 1), min-SNR γ 5${f.highNoiseWeight ? `, high-noise weight clamp(1/snr, 1, ${f.highNoiseWeight}) (ε steps with snr < 1, where
the figure's layout is still open, weighed like an x0 loss up to ${f.highNoiseWeight}×; src/train/diffusionObjective.ts)` : ''}, noise offset 0.05,
EMA 0.999 (the EMA weights are shipped), seed ${f.seed}.
Mean loss over the last 100 steps: ${f.meanLoss.toFixed(4)}. Wall time: ${wall} on 2 shared CPU cores.

## Evaluation
${f.evaluation ?? 'Run `npx tsx scripts/eval-default-t2i.ts` (tag accuracy on held-out colour combinations).'}

## Reproduce
Each stage starts from the one before (\`--init-from\`: a checkpoint, or an exported model folder) with a
fresh optimiser; a stopped stage resumes from its run folder's newest checkpoint with the same loss curve.
\`\`\`
npx tsx scripts/build-thumbnail-vae.ts --no-shift --out .scratch/thumb-vae   # stage 1's VAE (no mean shift)
npx tsx scripts/build-thumbnail-vae.ts --out .scratch/thumb-vae-s            # the VAE in vae/ (mean shift on)
nice -n 5 npx tsx scripts/train-default-t2i.ts --vae .scratch/thumb-vae --run .scratch/runs/t2i-b --out .scratch/t2i-stage1 --steps 700
nice -n 5 npx tsx scripts/train-default-t2i.ts --vae .scratch/thumb-vae-s --run .scratch/runs/default-t2i --out .scratch/t2i-stage2 --steps 1700 \\
  --init-from .scratch/runs/t2i-b/checkpoints/step-00000700/params.safetensors
nice -n 5 npx tsx scripts/train-default-t2i.ts --vae .scratch/thumb-vae-s --run ${f.runDir} --out models/default/t2i --steps ${f.step}${f.highNoiseWeight ? ` --high-noise-weight ${f.highNoiseWeight}` : ''} \\
  --init-from .scratch/t2i-stage2
npx tsx scripts/eval-default-t2i.ts --prompts 90 --update-card     # tag accuracy into this card
\`\`\`
\`--export-only\` (with the same --vae, --run and --out) exports a run's newest checkpoint without training on.
`;
}
