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
  thumbnail, 4th channel 0), decoding is nearest 4× upsampling, so pictures come out blocky. When this model
  was trained the trained tiny VAE (models/default/vae, still training) could not yet reproduce colours
  (held-out PSNR ≈ 18.6 dB at its step 200, colours greyish-green), and the named colours are the point of
  this model. Retraining on the trained VAE is one command (below, with --vae models/default/vae).
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
norm clipped at 1), min-SNR γ 5, noise offset 0.05, EMA 0.999 (the EMA weights are shipped), seed ${f.seed}.
Mean loss over the last 100 steps: ${f.meanLoss.toFixed(4)}. Wall time: ${wall} on 2 shared CPU cores.

## Evaluation
${f.evaluation ?? 'Run `npx tsx scripts/eval-default-t2i.ts` (tag accuracy on held-out colour combinations).'}

## Reproduce
\`\`\`
npx tsx scripts/build-thumbnail-vae.ts --out .scratch/thumb-vae-s          # the VAE in vae/ (mean shift on)
nohup nice -n 5 npx tsx scripts/train-default-t2i.ts --vae .scratch/thumb-vae-s --steps ${f.step} > .scratch/t2i.log 2>&1 &
npx tsx scripts/train-default-t2i.ts --vae .scratch/thumb-vae-s --export-only   # newest checkpoint → models/default/t2i
npx tsx scripts/eval-default-t2i.ts --update-card     # tag accuracy into this card
\`\`\`
The run folder (.scratch/runs/default-t2i) keeps checkpoints; starting the script again resumes from the
newest one with the same loss curve (a larger --steps continues training). To repeat this release's two
stages exactly: first \`build-thumbnail-vae.ts --no-shift --out .scratch/thumb-vae\` and 700 steps with
\`--vae .scratch/thumb-vae --run .scratch/runs/t2i-b\`, then the commands above with
\`--init-from .scratch/runs/t2i-b/checkpoints/step-00000700/params.safetensors\`.
`;
}
