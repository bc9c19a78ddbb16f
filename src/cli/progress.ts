// A one-line progress bar on stderr (redrawn in place on a TTY, one line per update otherwise).
import type { TrainProgress } from '../train/trainLoop.ts';
export interface ProgressBar {
  update(done: number): void;
  done(): void;
}

export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  const start = performance.now();
  const width = 30;
  let last = -1;
  const draw = (done: number) => {
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(frac * width);
    const secs = (performance.now() - start) / 1000;
    const eta = done > 0 ? (secs / done) * (total - done) : 0;
    const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${secs.toFixed(1)}s${done > 0 && done < total ? ` eta ${eta.toFixed(0)}s` : ''}`;
    if (stream.isTTY) stream.write(`\r${line}`);
    else if (done !== last) stream.write(`${line}\n`);
    last = done;
  };
  return {
    update: draw,
    done() {
      if (stream.isTTY) stream.write('\n');
    },
  };
}

/** One training step's line (`train [###...] step/steps loss lr it/s`), redrawn in place on a TTY. */
export function writeTrainProgress(p: TrainProgress, stream: NodeJS.WriteStream = process.stderr): void {
  const width = 30;
  const filled = Math.round((p.step / p.steps) * width);
  const line = `train [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} ${p.stepsPerSecond.toFixed(2)} it/s`;
  stream.write(stream.isTTY ? `\r${line}${p.step === p.steps ? '\n' : ''}` : `${line}\n`);
}
