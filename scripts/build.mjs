// Builds the package into dist/ (what `npm pack` ships; `prepack` runs this):
// 1. TypeScript to JavaScript and .d.ts with tsconfig.build.json (relative `.ts` imports rewritten to `.js`);
// 2. the files the code reads at run time, copied beside the compiled modules that read them;
// 3. the source fingerprints of the TypeScript sources (scripts/source-fingerprints.ts), beside core/hash.js.
// The public entry points are the `exports` map of package.json.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

/** Read at run time (suites, regression baselines, reference results, worker bootstraps, pre-trained simulators, the report template). */
export const ASSETS = [
  'benchmarks/suites',
  'benchmarks/baselines',
  'benchmarks/reference',
  'benchmarks/worker-boot.mjs',
  'simulators/shard-boot.mjs',
  'simulators/pretrained',
  'agents/worker-boot.mjs',
  'reports/template.hbs',
  'compute/native/blas.c',
];

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
for (const asset of ASSETS) cpSync(path.join(root, asset), path.join(dist, asset), { recursive: true });
// Computed from the sources, so the built code keys its caches as the sources do (core/hash.ts).
const { tsImport } = await import('tsx/esm/api');
const { sourceFingerprints } = await tsImport('./source-fingerprints.ts', import.meta.url);
const { BUILT_FINGERPRINTS_FILE } = await tsImport('../core/hash.ts', import.meta.url);
writeFileSync(path.join(dist, 'core', BUILT_FINGERPRINTS_FILE), `${JSON.stringify(sourceFingerprints(), null, 2)}\n`);
chmodSync(path.join(dist, 'bin/prorec-gym.js'), 0o755);
process.stderr.write(`built ${path.relative(process.cwd(), dist) || '.'}/\n`);
