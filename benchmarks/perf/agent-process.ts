/**
 * The cost of the agent process protocol (agents/process/, docs/agent-protocol.md), printed, never
 * asserted:
 *   - overhead of one `act` on a full batch (default 256 rows of ml-1m-v0): a Python agent that
 *     answers STOP for every row, so the time is the protocol's (encoding the observations and
 *     masks, the pipe both ways, decoding in NumPy); beside one environment step's time;
 *   - a whole evaluation (the harness's rollout) with the same agent logic in TypeScript and in
 *     Python (benchmarks/perf/process_agents.py).
 *   npm run perf -- agent-process [--env ID] [--batch B] [--rounds R]   (or npm run perf:agent-process)
 * Needs python3 with NumPy; ml-1m-v0 needs its data (synthetic-v0 with --env otherwise).
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import '../../envs/index.ts';
import { makeVec } from '../../envs/registry.ts';
import { actContext, type Agent, type AgentFactory } from '../../agents/agent.ts';
import { processAgentFactory, pythonCommand } from '../../agents/process/agent.ts';
import { rollOut } from '../evaluate.ts';
import type { ProactiveRecVectorEnv } from '../../envs/proactive.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const AGENTS = path.join(here, 'process_agents.py');

/** The TypeScript twin of process_agents.py's "score" agent. */
const scoreAgent: AgentFactory = {
  name: 'score-ts',
  description: 'the allowed item sharing most attributes with the target; STOP after 3',
  create() {
    let bonus: Float64Array | null = null;
    return {
      name: 'score-ts',
      act(observations, ctx) {
        const data = ctx.env.world.dataset;
        const N = ctx.env.actionSpace.n - 1;
        if (!bonus) {
          const max = Math.log1p(Math.max(...data.popularity));
          bonus = Float64Array.from(data.popularity, (p) => (1e-3 * Math.log1p(p)) / max);
        }
        const attrs = data.items.attributes;
        return Int32Array.from(observations, (o) => {
          if (o.step >= 3) return N;
          const mine = new Set(attrs[o.target]);
          let best = N;
          let bestScore = -Infinity;
          for (let i = 0; i < N; i++) {
            if (!o.actionMask[i]) continue;
            let s = bonus![i];
            for (const a of attrs[i]) if (mine.has(a)) s += 1;
            if (s > bestScore) {
              best = i;
              bestScore = s;
            }
          }
          return best;
        });
      },
    };
  },
};

async function timeEvaluation(agent: Agent, envId: string, batch: number, rounds: number): Promise<{ seconds: number; paths: string }> {
  const probe = await makeVec(envId, 1);
  const cases = probe.world.dataset.cases.test.length;
  probe.close();
  // Warm-up outside the timing: a process agent is created in its process at its first act.
  const warm = await makeVec(envId, batch);
  agent.act(warm.reset({ seed: 0, options: { split: 'test' } }).observations, actContext(warm, 0, 0));
  warm.close();
  let seconds = 0;
  const paths: string[] = [];
  for (let r = 0; r < rounds; r++) {
    const indices = Array.from({ length: batch }, (_, i) => (r * batch + i) % cases);
    const env = await makeVec(envId, batch);
    const t = performance.now();
    const episodes = await rollOut(env, agent, indices, { env: 1, agent: 2 }, 'test');
    seconds += (performance.now() - t) / 1000;
    paths.push(...episodes.map((e) => e.path.join(',')));
    env.close();
  }
  return { seconds, paths: paths.join(';') };
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { env: { type: 'string' }, batch: { type: 'string' }, rounds: { type: 'string' } }, strict: false });
  const envId = (values.env as string | undefined) ?? 'ml-1m-v0';
  const B = Number(values.batch ?? 256);
  const rounds = Number(values.rounds ?? 20);
  const python = spawnSync(pythonCommand(), ['-c', 'import numpy'], { encoding: 'utf8' });
  if (python.status !== 0) {
    console.log(
      `agent process protocol: not measured (${pythonCommand()} with NumPy is not available: ${python.error?.message ?? python.stderr.trim().split('\n').pop()})`,
    );
    return;
  }
  let env: ProactiveRecVectorEnv;
  try {
    env = await makeVec(envId, B);
  } catch (e) {
    console.log(`agent process protocol: ${envId} is not available here (${(e as Error).message.split('\n')[0]}); measure on another with --env`);
    return;
  }
  const N = env.actionSpace.n - 1;
  console.log(
    `# agent process protocol: ${envId}, ${N} items, batch ${B}; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const { observations } = env.reset({ seed: 1, options: { split: 'test' } });

  // One environment step (a cheap fixed policy: the first allowed item), averaged over episodes.
  let stepMs = 0;
  let steps = 0;
  for (let r = 0; r < 3; r++) {
    let obs = env.reset({ seed: r, options: { split: 'test' } }).observations;
    for (let t = 0; t < 3; t++) {
      const actions = Int32Array.from(obs, (o) => o.actionMask.indexOf(1));
      const s = performance.now();
      obs = env.step(actions).observations;
      stepMs += performance.now() - s;
      steps += 1;
    }
  }
  stepMs /= steps;

  // The protocol's overhead: act with an agent that does nothing.
  const stop = await processAgentFactory(AGENTS).create({ mode: 'stop' }, { numItems: N, seed: 1 });
  env.reset({ seed: 1, options: { split: 'test' } });
  const ctx = actContext(env, 1, 0);
  stop.act(observations, ctx); // creates the agent in the process
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) stop.act(observations, actContext(env, 1, 0));
  const actMs = (performance.now() - t0) / rounds;
  stop.dispose?.();
  const maskMb = (B * (N + 1)) / 1e6;
  console.log(`environment step (batch ${B}):              ${stepMs.toFixed(2).padStart(8)} ms`);
  console.log(`act round trip, a Python agent doing nothing: ${actMs.toFixed(2).padStart(8)} ms (${maskMb.toFixed(2)} MB of masks per step)`);
  console.log(`protocol share of a step (step + act):      ${((100 * actMs) / (stepMs + actMs)).toFixed(1).padStart(8)} %`);
  env.close();

  // The same logic in TypeScript and in Python over whole evaluations.
  const ts = await timeEvaluation(await scoreAgent.create({}, { numItems: N, seed: 1 }), envId, B, 2);
  const pyAgent = await processAgentFactory(AGENTS).create({ mode: 'score' }, { numItems: N, seed: 1 });
  const py = await timeEvaluation(pyAgent, envId, B, 2);
  pyAgent.dispose?.();
  console.log(`evaluation, ${2 * B} episodes, TypeScript agent: ${ts.seconds.toFixed(2).padStart(8)} s`);
  console.log(
    `evaluation, ${2 * B} episodes, Python agent:     ${py.seconds.toFixed(2).padStart(8)} s (${(py.seconds / ts.seconds).toFixed(2)}x; same paths: ${py.paths === ts.paths})`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
