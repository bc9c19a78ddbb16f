// Child process for the resume test: trains the tiny task in the given run folder, sleeping after
// every step so the parent can kill it between checkpoints. Usage: trainChild.ts <runDir> <config json>
import { runTraining, type TrainLoopConfig } from '../src/train/trainLoop.ts';
import { tinyTrainTask } from './tinyTrainTask.ts';

const [runDir, configJson, sleepMs] = process.argv.slice(2);
const task = await tinyTrainTask();
await runTraining(runDir, JSON.parse(configJson) as TrainLoopConfig, task, {
  onProgress: async (p) => {
    process.stdout.write(`step ${p.step}\n`);
    await new Promise((r) => setTimeout(r, Number(sleepMs)));
  },
});
await task.model.release();
