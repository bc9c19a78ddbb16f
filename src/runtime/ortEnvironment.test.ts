// Regression: a long command line (a 6,000-word --prompt) crashed onnxruntime's environment start-up with
// signal 11 (its telemetry client regex-matches /proc/self/cmdline recursively). A child process gets
// a 48 KB argument — the crash needs ~30 KB — and must open a session and run it.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');

// A script file, not \`node -e\`: with the script text first on the command line the crash does not occur.
const script = `
import { openSession } from ${JSON.stringify(join(root, 'src/runtime/ortSession.ts'))};
const s = await openSession(new Uint8Array(0)).catch((e) => e);
console.log(s instanceof Error ? 'clear error: ' + s.message.slice(0, 40) : 'opened');
`;

function withoutTelemetrySwitch(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.ORT_DISABLE_TELEMETRY;
  return env;
}

describe('onnxruntime environment', () => {
  it('starts with a 48 KB command line (was signal 11) and loads nothing silently', () => {
    const long = Array.from({ length: 8000 }, (_, i) => `word${i % 97}`).join(' ');
    expect(long.length).toBeGreaterThan(48_000);
    const dir = mkdtempSync(join(tmpdir(), 'inkflow-ortenv-'));
    const file = join(dir, 'open.mts');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, ['--import', 'tsx', file, long], { cwd: root, encoding: 'utf8', env: withoutTelemetrySwitch() });
    rmSync(dir, { recursive: true, force: true });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^clear error: onnxruntime could not load the model/);
    // Nothing but our own message reaches stderr (ORT's coloured log lines are off).
    expect(r.stderr).toBe('');
  });
});
