// The layering rules of the design (README, source layout): a module imports only from its
// own layer or below. Checked on the import statements of every file under src/.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const SRC = resolve(import.meta.dirname, '../src');

/** From the bottom. A module may import its own layer and the ones below it. */
const LAYERS: Array<[number, string[]]> = [
  [0, ['config', 'crypto', 'runtime', 'contract', 'version.ts']],
  [1, ['store']],
  [2, ['catalog', 'auth', 'observability']],
  [3, ['delivery']],
  [4, ['ingest']],
  [5, ['api', 'ui']],
  [6, ['server.ts', 'deliveryWorker.ts', 'bootstrap.ts']],
  [7, ['cli']],
];

function layerOf(file: string): number {
  const top = relative(SRC, file).split('/')[0]!;
  const found = LAYERS.find(([, names]) => names.includes(top));
  assert.ok(found !== undefined, `${relative(SRC, file)} belongs to no layer: add its folder to LAYERS`);
  return found[0];
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const IMPORT = /^\s*(?:import|export)\b[^'"]*?from\s*['"](\.[^'"]+)['"]|^\s*import\s*['"](\.[^'"]+)['"]/gm;

describe('layering', () => {
  it('no module under src/ imports a layer above its own', () => {
    const broken: string[] = [];
    for (const file of sources(SRC)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(IMPORT)) {
        const target = resolve(dirname(file), m[1] ?? m[2]!);
        if (!target.startsWith(SRC)) continue;
        if (layerOf(target) > layerOf(file)) broken.push(`${relative(SRC, file)} imports ${relative(SRC, target)}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it('the API never reaches into a store implementation', () => {
    const reaching = sources(join(SRC, 'api')).filter((f) => /from\s*['"][^'"]*store\/(sqlite|postgres)\//.test(readFileSync(f, 'utf8')));
    assert.deepEqual(reaching.map((f) => relative(SRC, f)), []);
  });
});
