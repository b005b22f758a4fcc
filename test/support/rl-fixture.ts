/**
 * The small world and the untrained starting policy the RL tests train from (they check
 * mechanics, not quality): a 60-item synthetic world, its train-split environments, and a
 * temporary folder holding `init.json`, a fresh 16-dimensional policy without item prior (seed 1).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { ensureBackend } from '../../agents/nn.ts';
import { PolicyAgent } from '../../agents/policy-agent.ts';
import { PolicyNetwork } from '../../agents/policy.ts';
import { makeVec } from '../../envs/index.ts';
import { Rng } from '../../core/rng.ts';
import { rlAgents, type RlAgent } from '../../agents/rl.ts';

export const WORLD = { numItems: 60, numUsers: 120 };

/** `n` train-split environments of WORLD: what an agent's `train` gets as `makeEnv`. */
export const makeEnv = (n: number) => makeVec('synthetic-v0', n, { world: WORLD, split: 'train' });

/**
 * A temporary folder (prefix `name`) made before the file's tests, with the starting policy in
 * `initFile`, and removed after them. Read `dir` and `initFile` inside tests (they are set by then).
 */
export function rlTestFolder(name: string): { readonly dir: string; readonly initFile: string } {
  const folder = { dir: '', initFile: '' };
  before(async () => {
    await ensureBackend();
    folder.dir = mkdtempSync(path.join(tmpdir(), `${name}-`));
    folder.initFile = path.join(folder.dir, 'init.json');
    const agent = new PolicyAgent('supervised', new PolicyNetwork(60, { itemPrior: 'none', dim: 16 }, { seed: 1 }));
    await agent.save(folder.initFile);
    agent.dispose();
  });
  after(() => rmSync(folder.dir, { recursive: true, force: true }));
  return folder;
}

/**
 * Trains ProRL from `initFile` (16 dimensions, no item prior, seed 1) on WORLD's train
 * environments with the `rl` config: its final weights and every log line. The agent is disposed.
 */
export async function trainProrl(
  initFile: string,
  rl: Record<string, unknown>,
): Promise<{ weights: Record<string, Float32Array>; logs: Record<string, number>[] }> {
  const f = rlAgents.find((a) => a.name === 'prorl')!;
  const agent = (await f.create({ init: initFile, policy: { dim: 16, itemPrior: 'none' }, rl }, { numItems: 60, seed: 1 })) as RlAgent;
  const logs: Record<string, number>[] = [];
  await agent.train(makeEnv, {}, { rng: Rng.stream(1, 'agent'), callbacks: { onLog: (_s, v) => logs.push(v) } });
  const weights = agent.net.params.snapshot();
  agent.dispose();
  return { weights, logs };
}
