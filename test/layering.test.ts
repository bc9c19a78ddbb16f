// The layers are one-way (ARCHITECTURE.md §2): a file under src/<layer>/ may import its own layer or a
// lower one, never a higher one. Tests (*.test.ts) may also import test/**; only src/runtime opens
// onnxruntime-node, so session options and errors live in one place. A new top-level folder under src/
// must be given a place in LAYERS before anything can import it.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const LAYERS: readonly (readonly string[])[] = [
  ['files'], // user-given names, atomic outputs, bounded reads: below everything that touches disk
  ['graph'],
  ['runtime'],
  ['weights'],
  ['imaging'], // below models on purpose: models/clip preprocesses the Image type
  ['models'],
  ['sampling'],
  ['train'], // training graphs, optimisers, checkpoints: uses models and sampling, used by pipelines and the CLI
  ['pipelines'],
  ['workflow'],
  ['server', 'cli', 'web'],
];
const rank = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

/** Module specifiers of every static import / re-export, side-effect import and dynamic import(). */
function importSpecifiers(code: string): string[] {
  const specs: string[] = [];
  // `import … from '…'` and `export … from '…'` (also multi-line and `import type`), at the start of a line
  // so prose in comments does not count.
  for (const m of code.matchAll(/^[ \t]*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm)) specs.push(m[1]);
  for (const m of code.matchAll(/^[ \t]*import\s*['"]([^'"]+)['"]/gm)) specs.push(m[1]);
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]);
  return specs;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every rule an import in `file` breaks, as readable lines. */
function violations(file: string, specs: readonly string[]): string[] {
  const rel = relative(src, file).split(sep);
  const layer = rel[0];
  const isTest = file.endsWith('.test.ts');
  const out: string[] = [];
  const name = `src/${rel.join('/')}`;
  if (rel.length < 2 || !rank.has(layer)) return [`${name} is not in a known layer (${[...rank.keys()].join(', ')})`];
  for (const spec of specs) {
    if (spec === 'onnxruntime-node' || spec.startsWith('onnxruntime-node/')) {
      if (layer !== 'runtime') out.push(`${name} imports onnxruntime-node: only src/runtime may (use runtime/openOnnx.ts or compile)`);
      continue;
    }
    if (!spec.startsWith('.')) continue; // packages and node: builtins
    const target = relative(root, resolve(dirname(file), spec)).split(sep);
    if (target[0] === 'test' && isTest) continue;
    if (target[0] !== 'src') {
      out.push(`${name} imports ${spec}, outside src/${isTest ? ' and test/' : ''}`);
      continue;
    }
    const to = target[1];
    if (!rank.has(to)) out.push(`${name} imports ${spec}: src/${to} is not in a known layer`);
    else if (rank.get(to)! > rank.get(layer)!) out.push(`${name} (${layer}) imports ${spec} from the higher layer ${to}`);
  }
  return out;
}

describe('layering', () => {
  it('finds imports in all their spellings', () => {
    const code = [
      "import { a } from './a.ts';",
      "import type { B } from '../b/b.ts';",
      'import {\n  c,\n  d,\n} from "./cd.ts";',
      "export { e } from './e.ts';",
      "export * from './f.ts';",
      "import './side.ts';",
      "const g = await import('./g.ts');",
      "// a comment that says: import x from './comment.ts'",
      "const s = 'where the data comes from: ./nowhere.ts';",
    ].join('\n');
    expect(importSpecifiers(code).sort()).toEqual(['../b/b.ts', './a.ts', './cd.ts', './e.ts', './f.ts', './g.ts', './side.ts']);
  });

  it('reports a higher-layer import, onnxruntime outside runtime and test/ imports from non-tests', () => {
    const f = (p: string) => join(src, p);
    expect(violations(f('models/x.ts'), ['../sampling/y.ts'])).toEqual(['src/models/x.ts (models) imports ../sampling/y.ts from the higher layer sampling']);
    expect(violations(f('pipelines/a/x.ts'), ['onnxruntime-node'])).toHaveLength(1);
    expect(violations(f('runtime/x.ts'), ['onnxruntime-node', '../graph/g.ts'])).toEqual([]);
    expect(violations(f('models/x.ts'), ['../../test/golden/io.ts'])).toHaveLength(1);
    expect(violations(f('models/x.test.ts'), ['../../test/golden/io.ts', '../imaging/image.ts'])).toEqual([]);
    expect(violations(f('cli/x.ts'), ['../pipelines/p.ts', '../graph/g.ts'])).toEqual([]);
    expect(violations(f('tools/x.ts'), [])).toEqual([`src/tools/x.ts is not in a known layer (${[...rank.keys()].join(', ')})`]);
  });

  it('every import in src/ goes to its own layer or a lower one', () => {
    const files = tsFiles(src);
    let local = 0;
    const problems: string[] = [];
    for (const file of files) {
      const specs = importSpecifiers(readFileSync(file, 'utf8'));
      local += specs.filter((s) => s.startsWith('.')).length;
      problems.push(...violations(file, specs));
    }
    // Guard against a parser that silently finds nothing.
    expect(files.length).toBeGreaterThan(100);
    expect(local).toBeGreaterThan(5 * files.length / 2);
    expect(problems).toEqual([]);
  });
});
