/**
 * `npm run perf`: speed and memory figures, printed, never asserted. Each section compares against
 * its alternative in the same run (ratios), since shared machines are noisy.
 *   npm run perf                 all sections
 *   npm run perf -- env sim      only some (env, backend, sim, rl, agent-process)
 *   npm run perf -- rl           RL training paths/s beside a PyTorch reference (benchmarks/perf/rl.ts)
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError } from '../core/errors.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const SECTIONS: Record<string, string> = {
  env: 'perf/env.ts',
  backend: 'perf/backend.ts',
  sim: 'perf/simulator.ts',
  rl: 'perf/rl.ts',
  'agent-process': 'perf/agent-process.ts',
};

// Section names; options belong to the sections (these take a value).
const VALUED = new Set(['--rounds', '--iters', '--python', '--env', '--world', '--batch', '--items', '--steps', '--workers', '--torch-threads']);
const wanted = process.argv.slice(2).filter((a, i, all) => !a.startsWith('-') && !(i > 0 && VALUED.has(all[i - 1])));
for (const name of wanted)
  if (!(name in SECTIONS)) {
    console.error(`perf: unknown section '${name}'; sections: ${Object.keys(SECTIONS).join(', ')}`);
    process.exit(2);
  }
for (const [name, file] of Object.entries(SECTIONS)) {
  if (wanted.length && !wanted.includes(name)) continue;
  const full = path.join(here, file);
  if (!existsSync(full)) {
    console.log(`\n## ${name}: not available (${file} missing)`);
    continue;
  }
  console.log(`\n## ${name}`);
  const mod = (await import(pathToFileURL(full).href)) as { main?: () => Promise<void> };
  if (typeof mod.main !== 'function') throw new UsageError(`${file} does not export main()`);
  await mod.main();
}
