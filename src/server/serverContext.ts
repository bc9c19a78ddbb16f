// Everything a route handler may use, built once by startServer.
import type { DataFolder } from './dataFolder.ts';
import type { AcceptMeter } from './acceptMeter.ts';
import type { JobRunner } from './jobRunner.ts';
import type { PromptLifecycle } from './promptLifecycle.ts';
import type { PromptStore } from './store.ts';
import type { WorkflowApi, WorkflowEnv } from './workflowApi.ts';

export interface ServerLimits {
  /** Largest accepted upload, in bytes (also the JSON body limit). */
  maxUploadBytes: number;
  /** Largest accepted image, in pixels, checked from the file header before anything is decoded. */
  maxImagePixels: number;
}

export interface ServerContext {
  readonly data: DataFolder;
  readonly env: WorkflowEnv;
  readonly workflow: WorkflowApi;
  readonly store: PromptStore;
  readonly life: PromptLifecycle;
  readonly runner: JobRunner;
  readonly limits: ServerLimits;
  /** The command line, reported by /system_stats as ComfyUI does. */
  readonly argv: string[];
  /** Next queue number (ComfyUI counts up per accepted prompt; `front` makes it negative). */
  nextNumber(): number;
  /** POST /prompt's part of the bench's overhead meter (does nothing outside the bench). */
  readonly acceptMeter: AcceptMeter;
}
