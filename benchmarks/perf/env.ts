/**
 * Environment throughput on synthetic-v0: environment steps per second at batch 1 and batch 1024,
 * with a fixed cheap policy (the first allowed item after a per-row offset) so that the figure is
 * the environment's own cost (simulator advance, reward bookkeeping, observations and masks).
 */
import { fileURLToPath } from 'node:url';
import '../../envs/index.ts';
import { makeVec } from '../../envs/registry.ts';

export async function envStepsPerSecond(envId: string, batch: number, seconds: number, overrides: Record<string, unknown> = {}): Promise<number> {
  const env = await makeVec(envId, batch, overrides);
  const N = env.numItems;
  let steps = 0;
  let episode = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    let { observations } = env.reset({ seed: episode++ });
    for (let t = 0; t < env.config.maxLength; t++) {
      const actions = Int32Array.from(observations, (o, k) => {
        let a = (k * 7919 + t * 104729) % N;
        while (!o.actionMask[a]) a = (a + 1) % N;
        return a;
      });
      observations = env.step(actions).observations;
      steps += batch;
    }
  }
  env.close();
  return steps / ((performance.now() - start) / 1000);
}

export async function main(): Promise<void> {
  console.log('# environment throughput (synthetic-v0, exact simulator, 1,000 items)');
  for (const batch of [1, 1024]) {
    const sps = await envStepsPerSecond('synthetic-v0', batch, 5);
    console.log(`synthetic-v0 batch ${String(batch).padStart(4)}: ${sps.toFixed(0).padStart(8)} env steps/s`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
