// Process-wide onnxruntime settings that must be in place before the first session is created (ORT reads
// them once, when its environment starts).
//
// Telemetry off: onnxruntime-node 1.30 starts Microsoft's 1DS telemetry client when its environment is
// created. On Linux that client reads /proc/self/cmdline and matches it with a backtracking std::regex
// whose recursion depth grows with the command line's length — about 2.6 stack frames per byte. A
// command line over ~30 KB (a 6,000-word `--prompt`) overflows the 8 MB main-thread stack: signal 11,
// nothing printed, and a server would lose every job with it. ORT skips that client when
// ORT_DISABLE_TELEMETRY is set; an offline engine has no use for it anyway.
//
// Environment log level "fatal": ORT's own logger prints coloured lines to stderr (e.g. a missing
// CUDA provider library) before our error can say the same thing clearly; errors still reach us as
// exceptions.
import * as ort from 'onnxruntime-node';

let configured = false;

/** Applies the settings once; call before every InferenceSession.create (cheap after the first call). */
export function configureOrtEnvironment(): void {
  if (configured) return;
  configured = true;
  if (process.env.ORT_DISABLE_TELEMETRY === undefined) process.env.ORT_DISABLE_TELEMETRY = '1';
  if (!process.env.INKFLOW_ORT_LOG) ort.env.logLevel = 'fatal';
}
