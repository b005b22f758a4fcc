/**
 * A small measurement script for the learned agents (the bench CLI is the full harness): train one
 * agent on one seed, evaluate it on every test case (or --episodes of them), and write one JSON file
 * with the metrics, the wall times and the training curves; `--table DIR` summarises a folder.
 *
 *   npx tsx agents/measure.ts --agent prorl --seed 1 --config '{"init":"sup.json"}' --out DIR --tag prorl-s1 [--save ckpt.json]
 *   npx tsx agents/measure.ts --table DIR
 *
 * Evaluation steps all cases of the split in one vector environment with the agent's own decoding;
 * the agent's randomness comes from the seed's `agent` stream, as in the bench.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import '../envs/index.ts';
import { makeVec } from '../envs/registry.ts';
import { Rng } from '../envs/rng.ts';
import type { EpisodeSummary } from '../envs/proactive.ts';
import { resolveAgent } from './registry.ts';

function arg(name: string, fallback = ''): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

interface Measurement {
  agent: string;
  tag: string;
  seed: number;
  config: unknown;
  env: string;
  episodes: number;
  ioi: number;
  ior: number;
  ctr: number;
  coherence: number;
  length: number;
  success: number;
  stopRate: number;
  trainSeconds: number;
  evalSeconds: number;
  curve: Record<string, number>[];
}

async function measure(): Promise<void> {
  const name = arg('agent');
  const seed = Number(arg('seed', '1'));
  const config = JSON.parse(arg('config', '{}')) as Record<string, unknown>;
  const envId = arg('env', 'synthetic-v0');
  const out = arg('out', 'measure-out');
  const tag = arg('tag', `${name}-s${seed}`);
  const save = arg('save');
  const episodes = Number(arg('episodes', '0'));
  const factory = await resolveAgent(name);
  const probe = await makeVec(envId, 1, {});
  const agent = await factory.create(config, { numItems: probe.numItems, seed });
  const rng = Rng.stream(seed, 'agent');
  const curve: Record<string, number>[] = [];
  const t0 = performance.now();
  if (agent.train) {
    await agent.train((n) => makeVec(envId, n, { split: 'train' }), {}, { rng: rng.child('train'), callbacks: { onLog: (step, v) => curve.push({ step, ...v }) } });
  }
  const trainSeconds = (performance.now() - t0) / 1000;
  if (save && agent.save) await agent.save(save);
  const all = probe.cases('test').length;
  const n = episodes > 0 ? Math.min(episodes, all) : all;
  const env = await makeVec(envId, n, { split: 'test' });
  const t1 = performance.now();
  let { observations } = env.reset({ seed, options: { caseIndices: Array.from({ length: n }, (_, i) => i) } });
  const eps: EpisodeSummary[] = [];
  const actRng = rng.child('act');
  while (env.active().some((x) => x)) {
    const r = env.step(agent.act(observations, { env, rng: actRng }));
    observations = r.observations;
    for (const i of r.infos) if (i.episode) eps.push(i.episode);
  }
  const evalSeconds = (performance.now() - t1) / 1000;
  env.close();
  agent.dispose?.();
  const mean = (f: (e: EpisodeSummary) => number) => eps.reduce((a, e) => a + f(e), 0) / eps.length;
  const withL = eps.filter((e) => e.coherence !== null);
  const m: Measurement = {
    agent: name, tag, seed, config, env: envId, episodes: eps.length,
    ioi: mean((e) => e.ioi), ior: mean((e) => e.ior), ctr: mean((e) => e.ctr),
    coherence: withL.reduce((a, e) => a + (e.coherence ?? 0), 0) / Math.max(1, withL.length),
    length: mean((e) => e.length), success: mean((e) => (e.success ? 1 : 0)), stopRate: mean((e) => (e.stopped ? 1 : 0)),
    trainSeconds, evalSeconds, curve,
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, `${tag}.json`), JSON.stringify(m));
  const { curve: _c, ...brief } = m;
  void _c;
  console.log(JSON.stringify(brief));
}

function table(dir: string): void {
  const rows = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Measurement);
  const groups = new Map<string, Measurement[]>();
  for (const r of rows) {
    const key = r.tag.replace(/-s\d+$/, '');
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const ms = (xs: number[], digits = 3) => {
    const mu = xs.reduce((a, b) => a + b, 0) / xs.length;
    if (xs.length < 2) return mu.toFixed(digits);
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mu) ** 2, 0) / (xs.length - 1));
    return `${mu.toFixed(digits)} ± ${sd.toFixed(digits)}`;
  };
  console.log('| agent | seeds | IoI | IoR | CTR | coherence | length | train s |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [key, rs] of groups) {
    rs.sort((a, b) => a.seed - b.seed);
    console.log(`| ${key} | ${rs.map((r) => r.seed).join(',')} | ${ms(rs.map((r) => r.ioi))} | ${ms(rs.map((r) => r.ior), 1)} | ${ms(rs.map((r) => r.ctr))} | ${ms(rs.map((r) => r.coherence))} | ${ms(rs.map((r) => r.length), 2)} | ${ms(rs.map((r) => r.trainSeconds), 0)} |`);
  }
  // Path length of the sampled rollouts over training (mean over seeds), and the gradient noise.
  console.log('\nsampled path length over updates (mean over seeds):');
  for (const [key, rs] of groups) {
    const curves = rs.map((r) => r.curve.filter((c) => 'length' in c && 'gradNorm' in c));
    if (curves.some((c) => c.length === 0)) continue;
    const T = Math.min(...curves.map((c) => c.length));
    const pts: string[] = [];
    for (let t = 0; t < T; t++) if (t === 0 || (t + 1) % 8 === 0) pts.push(`${t + 1}:${(curves.reduce((a, c) => a + c[t].length, 0) / curves.length).toFixed(2)}`);
    console.log(`${key.padEnd(24)} ${pts.join(' ')}`);
  }
  console.log('\nper update, first epoch -> last epoch (mean over seeds): gradVarTrace | gradient SNR = C·|g|²/gradVarTrace − 1 | KL to π_ref per path | entropy per step');
  for (const [key, rs] of groups) {
    const curves = rs.map((r) => r.curve.filter((c) => 'gradNorm' in c));
    if (curves.some((c) => c.length === 0)) continue;
    const C = 4;
    const stat = (first: boolean) => {
      const xs = curves.flatMap((c) => {
        const E = Math.max(...c.map((x) => x.epoch));
        return c.filter((x) => x.epoch === (first ? 1 : E));
      });
      const avg = (f: (x: Record<string, number>) => number) => xs.reduce((a, x) => a + f(x), 0) / xs.length;
      return [avg((x) => x.gradVarTrace), avg((x) => (C * x.gradNorm ** 2) / Math.max(1e-12, x.gradVarTrace) - 1), avg((x) => x.kl), avg((x) => x.entropy)].map((v) => v.toPrecision(3)).join(' | ');
    };
    console.log(`${key.padEnd(24)} ${stat(true)}  ->  ${stat(false)}`);
  }
}

const dir = arg('table');
if (dir) table(dir);
else await measure();
