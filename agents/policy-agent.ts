/**
 * The acting side shared by every agent built on the item-level policy (supervised, the RL family,
 * IRN): turn observations into packed paths, decode (greedy or sampled), propose K candidate paths
 * by beam search, and save/load the network's weights.
 */
import { Type, type Static } from '@sinclair/typebox';
import { assertFinite, writeFileAtomic } from '../core/io.ts';
import { validate, ValidationError } from '../core/validate.ts';
import { readFile } from 'node:fs/promises';
import type { ProactiveObservation } from '../envs/proactive.ts';
import type { ActContext, Agent } from './agent.ts';
import { decodeMap, encodeMap } from './nn.ts';
import { beamSearch, greedyActions, packPaths, PolicyConfigSchema, PolicyNetwork, sampleActions, type PathRecord } from './policy.ts';
import { ConfigError } from '../core/errors.ts';

/** The path so far of each observation, as the policy reads it. */
export function observationPaths(observations: readonly ProactiveObservation[]): PathRecord[] {
  return observations.map((o) => ({ history: o.history, target: o.target, items: o.proposed, accepted: o.accepted }));
}

export type Decode = 'greedy' | 'sample';

/**
 * A policy checkpoint file (JSON): the header, the weights (base64 float32 per parameter) and, for a
 * trainer's checkpoint, its state (`training`, whose shape the trainer validates). Validated on read.
 */
export const PolicyCheckpointSchema = Type.Object(
  {
    format: Type.Literal('prorec-policy'),
    version: Type.Literal(1),
    agent: Type.String(),
    numItems: Type.Integer({ minimum: 1 }),
    policy: PolicyConfigSchema,
    params: Type.Record(Type.String(), Type.String({ contentEncoding: 'base64' })),
    training: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
export type PolicyCheckpoint = Static<typeof PolicyCheckpointSchema>;
export type CheckpointHeader = Omit<PolicyCheckpoint, 'params' | 'training'>;

/**
 * Checkpoints are written atomically (core/io.ts): a run killed while saving keeps the previous one.
 * A NaN or ±Infinity in the training state is refused (NonFiniteError naming the file and field), not
 * written as null to fail a later resume.
 */
export async function writeJson(file: string, value: unknown): Promise<void> {
  assertFinite(file, value);
  writeFileAtomic(file, JSON.stringify(value));
}

/** Reads and validates a policy checkpoint; errors name the file and the field. */
export async function readPolicyCheckpoint(file: string): Promise<PolicyCheckpoint> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new ValidationError(file, [`not a readable JSON policy checkpoint: ${(e as Error).message}`]);
  }
  return validate(PolicyCheckpointSchema, raw, `policy checkpoint ${file}`);
}

/** Reads a policy checkpoint's weights into `net` (checks the format, item count and architecture). */
export async function loadPolicyWeights(net: PolicyNetwork, file: string): Promise<PolicyCheckpoint> {
  const json = await readPolicyCheckpoint(file);
  if (json.numItems !== net.numItems) throw new ConfigError(`${file}: checkpoint has ${json.numItems} items, the environment ${net.numItems}`);
  for (const k of ['dim', 'encoder', 'maxLength', 'itemPrior'] as const) {
    if (json.policy[k] !== net.config[k])
      throw new ConfigError(`${file}: checkpoint policy ${k} = ${String(json.policy[k])}, this agent's ${String(net.config[k])}`);
  }
  net.params.restore(decodeMap(json.params));
  return json;
}

export function policyCheckpoint(agent: string, net: PolicyNetwork, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const header: CheckpointHeader = { format: 'prorec-policy', version: 1, agent, numItems: net.numItems, policy: net.config };
  return { ...header, params: encodeMap(net.params.snapshot()), ...extra };
}

/** An agent that acts with a PolicyNetwork. Subclasses add training. */
export class PolicyAgent implements Agent {
  constructor(
    readonly name: string,
    readonly net: PolicyNetwork,
    public decode: Decode = 'greedy',
  ) {}

  act(observations: readonly ProactiveObservation[], ctx: ActContext): Int32Array {
    const B = observations.length;
    const A = this.net.numItems + 1;
    if (ctx.env.actionSpace.n !== A)
      throw new ConfigError(`${this.name}: the policy has ${this.net.numItems} items, the environment ${ctx.env.actionSpace.stop}`);
    const traj = packPaths(observationPaths(observations));
    const logp = this.net.nextLogProbs(
      traj,
      observations.map((o) => o.actionMask),
    );
    return this.decode === 'greedy' ? greedyActions(logp, B, A, 'log') : sampleActions(logp, B, A, 'log', (b) => ctx.rng(b));
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
