/**
 * A training worker's thread (agents/pg-worker.ts): its own tfjs engine and backend (the main
 * thread's, with the same kernels: PRORL_BLAS is read here too), copies of the policy and the
 * reference policy. Two kinds of request:
 * - `update`: the current weights of both and chunks of an update; the reply holds each chunk's
 *   gradient (chunkGradient) as float32 arrays;
 * - `rollout`: the policy's weights, an environment's recipe (envs/proactive.ts EnvRecipe: a
 *   built-in id, world options, random targets) and config, and a block of whole groups of cases;
 *   the reply holds their paths (runEpisodes), as the main thread would have played them. The
 *   world is built here once (from the caches the main thread filled; without simulator shards)
 *   and the environment kept while the recipe is the same.
 * Replies go out on the reply port, then the request's sequence number is stored in the shared
 * flag and notified, so the main thread can block on it.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { initBackend } from '../compute/backend.ts';
import { canonicalJson } from '../core/hash.ts';
import type { ItemTable } from '../data/dataset.ts';
import '../envs/index.ts'; // the built-in environments
import { ProactiveRecVectorEnv, type EnvConfig, type EnvRecipe } from '../envs/proactive.ts';
import { buildWorld, listEnvs } from '../envs/registry.ts';
import { chunkGradient } from './pg-loss.ts';
import { PolicyNetwork, type PolicyConfig, type Trajectories } from './policy.ts';
import { withRandomTargets } from './train-envs.ts';
import { runEpisodes, type RolloutPath } from './rollout.ts';

export interface UpdateWorkerInit {
  entry: string;
  numItems: number;
  config: PolicyConfig;
  items: ItemTable | null;
  trainSequences: readonly (readonly number[])[] | null;
  backend: string;
  flag: SharedArrayBuffer;
  reply: MessagePort;
}

export interface UpdateWorkerRequest {
  op: 'update';
  seq: number;
  policy: Record<string, Float32Array>;
  ref: Record<string, Float32Array>;
  parts: { sub: Trajectories; adv: Float32Array }[];
  N: number;
  beta: number;
  fused: boolean;
}

export interface RolloutRequest {
  op: 'rollout';
  seq: number;
  policy: Record<string, Float32Array>;
  recipe: EnvRecipe;
  config: EnvConfig;
  caseIndices: number[];
  sampleSeed: number;
  envSeed: number;
}

/** The first message of a worker: ready, and the environments it can build. */
export interface WorkerReady {
  ready: true;
  envs: string[];
}

export interface UpdateWorkerPart {
  grads: Record<string, Float32Array>;
  loss: number;
  kl: number;
  entropy: number;
}

export interface UpdateWorkerReply {
  seq: number;
  error?: { name: string; message: string };
  parts?: UpdateWorkerPart[];
  paths?: RolloutPath[];
}

const init = workerData as UpdateWorkerInit;
const flag = new Int32Array(init.flag);
await initBackend({ backend: init.backend, quiet: true });
const net = new PolicyNetwork(init.numItems, init.config, { seed: 0, items: init.items, trainSequences: init.trainSequences });
const ref = new PolicyNetwork(init.numItems, init.config, {
  seed: 0,
  trainable: false,
  label: 'reference',
  items: init.items,
  trainSequences: init.trainSequences,
});

/** The environment of the last rollout request: its key (recipe, config, rows) and itself. */
let rolloutEnv: { key: string; env: ProactiveRecVectorEnv } | null = null;

async function environment(recipe: EnvRecipe, config: EnvConfig, rows: number): Promise<ProactiveRecVectorEnv> {
  const key = canonicalJson({ recipe, config, rows });
  if (rolloutEnv?.key === key) return rolloutEnv.env;
  rolloutEnv?.env.close();
  rolloutEnv = null;
  // The main thread's world (its caches are filled), without simulator shards: this thread is one.
  const options = 'workers' in recipe.world ? { ...recipe.world, workers: 0 } : recipe.world;
  const world = await buildWorld(recipe.id, options, () => {});
  let env = new ProactiveRecVectorEnv(recipe.id, world, rows, config);
  if (recipe.randomTargets) {
    const base = env;
    env = withRandomTargets(base, recipe.randomTargets.split, rows, recipe.randomTargets.seed);
    base.close();
  }
  rolloutEnv = { key, env };
  return env;
}

async function rollout(req: RolloutRequest): Promise<RolloutPath[]> {
  net.params.restore(req.policy);
  const env = await environment(req.recipe, req.config, req.caseIndices.length);
  return runEpisodes(net, env, 'train', req.caseIndices, req.sampleSeed, req.envSeed);
}

function handle(req: UpdateWorkerRequest): UpdateWorkerPart[] {
  net.params.restore(req.policy);
  ref.params.restore(req.ref);
  return req.parts.map(({ sub, adv }) => {
    const g = chunkGradient(net, ref, sub, { advantages: adv, batchPaths: req.N, beta: req.beta, fused: req.fused });
    const grads: Record<string, Float32Array> = {};
    for (const [k, t] of Object.entries(g.grads)) {
      grads[k] = (t.dataSync() as Float32Array).slice();
      t.dispose();
    }
    return { grads, loss: g.loss, kl: g.kl, entropy: g.entropy };
  });
}

// Requests are handled one at a time, in order (a rollout builds its world asynchronously once).
let queue: Promise<void> = Promise.resolve();
parentPort!.on('message', (req: UpdateWorkerRequest | RolloutRequest) => {
  queue = queue.then(async () => {
    let reply: UpdateWorkerReply;
    let transfer: ArrayBuffer[] = [];
    try {
      if (req.op === 'rollout') reply = { seq: req.seq, paths: await rollout(req) };
      else {
        const parts = handle(req);
        reply = { seq: req.seq, parts };
        transfer = parts.flatMap((p) => Object.values(p.grads).map((a) => a.buffer as ArrayBuffer));
      }
    } catch (e) {
      const err = e as Error;
      reply = { seq: req.seq, error: { name: err.name, message: `${err.message}\n${err.stack ?? ''}` } };
    }
    init.reply.postMessage(reply, transfer);
    Atomics.store(flag, 0, req.seq);
    Atomics.notify(flag, 0);
  });
});
const ready: WorkerReady = { ready: true, envs: listEnvs().map((e) => e.id) };
parentPort!.postMessage(ready);
