/**
 * The acting side shared by every agent built on the item-level policy (supervised, the RL family,
 * IRN): turn observations into packed paths, decode (greedy or sampled), propose K candidate paths
 * by beam search, and save/load the network's weights.
 */
import { writeFileAtomic } from '../envs/io.ts';
import { readFile } from 'node:fs/promises';
import type { ProactiveObservation } from '../envs/proactive.ts';
import type { ActContext, Agent } from './agent.ts';
import { decodeMap, encodeMap } from './nn.ts';
import { greedyFromLogProbs, beamSearch, packPaths, PolicyNetwork, sampleFromLogProbs, type PathRecord, type PolicyConfig } from './policy.ts';

/**
 * Which of the proposed items the user accepted: `path` (accepted items, in order) is a
 * subsequence of `proposed`; with no repeats the match is exact.
 */
export function acceptedFlags(proposed: ArrayLike<number>, accepted: ArrayLike<number>): Uint8Array {
  const flags = new Uint8Array(proposed.length);
  let j = 0;
  for (let i = 0; i < proposed.length && j < accepted.length; i++) {
    if (proposed[i] === accepted[j]) {
      flags[i] = 1;
      j++;
    }
  }
  return flags;
}

/** The path so far of each observation, as the policy reads it. */
export function observationPaths(observations: readonly ProactiveObservation[]): PathRecord[] {
  return observations.map((o) => ({ history: o.history, target: o.target, items: o.proposed, accepted: acceptedFlags(o.proposed, o.path) }));
}

export type Decode = 'greedy' | 'sample';

export interface CheckpointHeader {
  format: 'prorec-policy';
  version: 1;
  agent: string;
  numItems: number;
  policy: PolicyConfig;
}

/** Checkpoints are written atomically (envs/io.ts): a run killed while saving keeps the previous one. */
export async function writeJson(file: string, value: unknown): Promise<void> {
  writeFileAtomic(file, JSON.stringify(value));
}

export async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
}

/** Reads a policy checkpoint's weights into `net` (checks the format, item count and architecture). */
export async function loadPolicyWeights(net: PolicyNetwork, file: string): Promise<Record<string, unknown>> {
  const json = await readJson(file);
  if (json.format !== 'prorec-policy') throw new Error(`${file}: not a policy checkpoint (format ${String(json.format)})`);
  if (json.numItems !== net.numItems) throw new Error(`${file}: checkpoint has ${String(json.numItems)} items, the environment ${net.numItems}`);
  const cfg = json.policy as PolicyConfig;
  for (const k of ['dim', 'encoder', 'maxLength'] as const) {
    if (cfg[k] !== net.config[k]) throw new Error(`${file}: checkpoint policy ${k} = ${String(cfg[k])}, this agent's ${String(net.config[k])}`);
  }
  net.params.restore(decodeMap(json.params as Record<string, string>));
  return json;
}

export function policyCheckpoint(agent: string, net: PolicyNetwork, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const header: CheckpointHeader = { format: 'prorec-policy', version: 1, agent, numItems: net.numItems, policy: net.config };
  return { ...header, params: encodeMap(net.params.snapshot()), ...extra };
}

/** An agent that acts with a PolicyNetwork. Subclasses add training. */
export class PolicyAgent implements Agent {
  constructor(readonly name: string, readonly net: PolicyNetwork, public decode: Decode = 'greedy') {}

  act(observations: readonly ProactiveObservation[], ctx: ActContext): Int32Array {
    const B = observations.length;
    const A = this.net.numItems + 1;
    if (ctx.env.actionSpace.n !== A) throw new Error(`${this.name}: the policy has ${this.net.numItems} items, the environment ${ctx.env.actionSpace.stop}`);
    const traj = packPaths(observationPaths(observations));
    const logp = this.net.nextLogProbs(traj, observations.map((o) => o.actionMask));
    return this.decode === 'greedy' ? greedyFromLogProbs(logp, B, A) : sampleFromLogProbs(logp, B, A, ctx.rng).actions;
  }

  /**
   * K candidate paths per observation by beam search from its current state (items recommended
   * from now on, STOP implicit at the end), best first by log-probability.
   */
  proposePaths(observations: readonly ProactiveObservation[], K: number, ctx: ActContext): number[][][] {
    const maxLength = ctx.env.config.maxLength;
    const paths = beamSearch(
      this.net,
      observations.map((o) => ({ history: o.history, target: o.target, prefix: Array.from(o.proposed) })),
      K,
      maxLength,
    );
    return paths.map((list, i) => list.map((p) => p.items.slice(observations[i].proposed.length)));
  }

  async save(file: string): Promise<void> {
    await writeJson(file, policyCheckpoint(this.name, this.net));
  }

  async load(file: string): Promise<void> {
    await loadPolicyWeights(this.net, file);
  }

  dispose(): void {
    this.net.dispose();
  }
}
