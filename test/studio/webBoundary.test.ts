// The studio's browser code talks to the server only over HTTP and the WebSocket: nothing under src/web
// (apart from its Node-side build config and tests) may import src/server, a lower engine layer or a Node
// built-in. layering.test.ts checks .ts files by layer rank; this also covers .tsx and the browser rule.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const web = join(root, 'src/web');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : []));
}

describe('studio browser code', () => {
  it('imports only studio code and browser packages', () => {
    const browserFiles = files(web).filter((f) => !f.endsWith('.test.ts') && !f.endsWith('vite.config.ts'));
    expect(browserFiles.length).toBeGreaterThan(30);
    const problems: string[] = [];
    let imports = 0;
    for (const f of browserFiles) {
      const code = readFileSync(f, 'utf8');
      for (const m of code.matchAll(/^[ \t]*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
        const spec = m[1] ?? m[2];
        imports++;
        const name = relative(root, f);
        if (spec.startsWith('node:') || ['fs', 'path', 'crypto', 'os'].includes(spec)) problems.push(`${name} imports the Node built-in ${spec}`);
        if (!spec.startsWith('.')) continue;
        const target = relative(root, resolve(dirname(f), spec)).split(sep);
        if (target[0] !== 'src' || target[1] !== 'web') problems.push(`${name} imports ${spec}, outside src/web`);
      }
    }
    expect(imports).toBeGreaterThan(100);
    expect(problems).toEqual([]);
  });
});
