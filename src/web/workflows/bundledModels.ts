// The server lists inkflow's bundled models (models/default/* in the repository) under one name in every
// model list; the studio tells them apart from the user's own files by that name. The server side of the
// name is src/models/bundledModels.ts (the studio cannot import it: it talks to the server over HTTP only).
export const BUNDLED_MODEL_NAME = 'default (bundled)';

/** What the bundled model of a model folder kind is, for the Models page and the choosers. */
export const BUNDLED_MODEL_NOTES: Readonly<Record<string, string>> = {
  checkpoints: 'inkflow\'s tiny demo model, shipped with it: 128×128 figures from tag prompts such as "red hair, blue shirt, green pants, arms up"',
  colorize: 'inkflow\'s tiny reference colouring model (SDRO), shipped with it: trained on synthetic characters',
  vae: 'inkflow\'s tiny VAE, shipped with it',
};

/** The side the bundled text-to-image model was trained at: bigger panels only repeat its figure. */
export const BUNDLED_CHECKPOINT_SIDE = 128;
