// npm run bench:profile -- DIR [--top N]
//
// Summarises the V8 CPU profiles in DIR (written by `serve` processes when the benchmark
// runs with BENCH_PROFILE_DIR=DIR): for each profile, the share of samples spent in each
// area (our source folders, dependencies, Node internals, garbage collection, idle) and the
// functions with the most self time. A profile is a sample, not a verdict: read it next to
// the benchmark figures of the same run.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: npm run bench:profile -- DIR [--top N]\n');
  process.exit(2);
}
const topArg = process.argv.indexOf('--top');
const top = topArg > 0 ? Number(process.argv[topArg + 1]) : 15;

/** Which part of the program a frame belongs to. */
function area(url: string, name: string): string {
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(program)') return 'V8 / native (program)';
  const src = /\/src\/([^/]+)\//.exec(url);
  if (src !== null && !url.includes('node_modules')) return `src/${src[1]}`;
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep !== null) return `dep: ${dep[1]}`;
  if (url.startsWith('node:')) return 'node internals';
  return url === '' ? 'native' : url;
}

for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, t] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + t);
    const key = `${functionName || '(anonymous)'}  ${url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + t);
  }
  const busy = total - (areas.get('idle') ?? 0);
  const pct = (t: number, of: number) => `${((100 * t) / of).toFixed(1).padStart(5)} %`;
  process.stdout.write(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled, ${pct(busy, total)} busy\n  by area (share of busy time):\n`);
  for (const [a, t] of [...areas].filter(([a]) => a !== 'idle').sort((x, y) => y[1] - x[1]).slice(0, top)) {
    process.stdout.write(`    ${pct(t, busy)}  ${a}\n`);
  }
  process.stdout.write('  functions with the most self time (share of busy time):\n');
  for (const [f, t] of [...fns].filter(([f]) => !f.startsWith('(idle)')).sort((x, y) => y[1] - x[1]).slice(0, top)) {
    process.stdout.write(`    ${pct(t, busy)}  ${f}\n`);
  }
}
