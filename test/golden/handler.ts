// A golden handler owns one kind of golden folder (a model, a scheduler, a pipeline…).
// The runner offers every folder to each handler; the first that recognises it registers its tests.
export interface GoldenHandler {
  /** Short name shown in test titles, e.g. "unet" or "scheduler". */
  readonly name: string;
  /** True when `dir` is a folder of this kind, judged from its config/manifest contents. */
  recognise(dir: string): boolean;
  /** Registers vitest tests (it/test) for the folder; called inside a describe block. */
  register(dir: string): void;
}
