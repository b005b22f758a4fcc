/**
 * Simulator speed: environment advance() steps per second at ML-1M sizes (3,706 items, batch 1,024,
 * sequences of ~20 items), incremental stepping against full recomputation in the same run, with
 * the FLOPs a step must do and the GFLOP/s it reaches; then training seconds per epoch on each
 * dataset that can be loaded (one epoch each, both architectures).
 *
 *   npx tsx benchmarks/perf/simulator.ts [--no-train] [--batch 1024] [--items 3706] [--steps 10]
 */
import { pathToFileURL } from 'node:url';
import { ensureBackend, tf } from '../../simulators/runtime.ts';
import { backendInfo } from '../../compute/backend.ts';
import { createModel } from '../../simulators/model.ts';
import { TfSimulator } from '../../simulators/batch.ts';
import { ShardedSimulator } from '../../simulators/shard.ts';
import type { UserSimulator } from '../../simulators/simulator.ts';
import os from 'node:os';
import { resolveModelConfig, type ModelConfig, type ModelKind } from '../../simulators/config.ts';
import { trainSimulator } from '../../simulators/train.ts';
import { Rng } from '../../core/rng.ts';
import type { Dataset } from '../../data/dataset.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Multiply-adds × 2 of one incremental step per row (the new position only), plus scoring. */
function stepFlops(config: ModelConfig, numItems: number, context: number): number {
  if (config.model === 'sasrec') {
    const d = config.hidden;
    const perBlock = 4 * d * d + 2 * d * config.feedForward + 2 * context * d;
    return 2 * (config.blocks * perBlock + (d + 1) * numItems);
  }
  const e = config.embedding;
  const h = config.hidden;
  return 2 * (3 * e * h + 3 * h * h + h * e + (e + 1) * numItems);
}

/** The same for recomputing every position of a sequence of `length` items. */
function fullFlops(config: ModelConfig, numItems: number, length: number): number {
  if (config.model === 'sasrec') {
    const d = config.hidden;
    const perBlock = length * (4 * d * d + 2 * d * config.feedForward) + 2 * length * length * d;
    return 2 * (config.blocks * perBlock + (d + 1) * numItems);
  }
  return length * (stepFlops(config, numItems, 0) - 2 * (config.embedding + 1) * numItems) + 2 * (config.embedding + 1) * numItems;
}

async function stepping(kind: ModelKind, numItems: number, batch: number, steps: number): Promise<void> {
  const config = resolveModelConfig(kind);
  const sim = new TfSimulator(createModel(config, numItems, 1), `${kind}-perf`);
  const rng = Rng.stream(1, 'perf');
  const historyLength = 15;
  const histories = Array.from({ length: batch }, () => Array.from({ length: historyLength }, () => rng.int(numItems)));
  const targets = Int32Array.from({ length: batch }, () => rng.int(numItems));
  const actions = Array.from({ length: steps }, () => Int32Array.from({ length: batch }, () => rng.int(numItems)));

  const measure = (simulator: UserSimulator) => {
    // Warm-up (XNNPACK packs weights on first use).
    const warm = simulator.open(histories);
    warm.advance(actions[0], targets);
    warm.dispose();
    let t = performance.now();
    const b = simulator.open(histories);
    const open = performance.now() - t;
    const cpu0 = process.cpuUsage();
    t = performance.now();
    for (const a of actions) b.advance(a, targets);
    const wall = (performance.now() - t) / steps;
    const c = process.cpuUsage(cpu0);
    b.dispose();
    return { open, wall, cpu: (c.user + c.system) / 1000 / steps };
  };
  const single = measure(sim);
  const shardedSim = await ShardedSimulator.create(sim, { seed: 1, workers: 1 });
  const sharded = measure(shardedSim);
  await shardedSim.terminateWorkers();
  const openMs = single.open;
  const incrementalMs = single.wall;

  // Full recomputation, as the official release does: rebuild each sequence from scratch per step.
  const sequences = histories.map((h) => h.slice());
  const fullSteps = Math.min(steps, 3);
  const start = performance.now();
  for (let s = 0; s < fullSteps; s++) {
    const before = sim.open(sequences);
    before.ctr(actions[s]);
    before.dispose();
    sequences.forEach((q, r) => q.push(actions[s][r]));
    const after = sim.open(sequences);
    after.targetStats(targets);
    after.dispose();
  }
  const fullMs = (performance.now() - start) / fullSteps;

  const context = historyLength + steps / 2;
  const incFlops = batch * stepFlops(config, numItems, context);
  const recFlops = batch * (fullFlops(config, numItems, context) + 2 * (outDim(config) + 1) * numItems);
  const line = (name: string, ms: number, flops: number, cpu?: number) =>
    `  ${kind.padEnd(8)} ${name.padEnd(30)} ${ms.toFixed(1).padStart(8)} ms/step ${((batch / ms) * 1000).toFixed(0).padStart(8)} steps/s  ` +
    `${(flops / 1e9).toFixed(2).padStart(6)} GFLOP/step ${(flops / 1e6 / ms).toFixed(1).padStart(6)} GFLOP/s` +
    (cpu === undefined ? '' : `  (CPU ${cpu.toFixed(1)} ms/step, all threads)`);
  console.log(line('incremental, 1 thread', incrementalMs, incFlops, single.cpu));
  console.log(line('incremental, 2 shards (worker)', sharded.wall, incFlops, sharded.cpu));
  console.log(line('full recomputation', fullMs, recFlops));
  console.log(
    `  ${kind.padEnd(8)} open (${batch} × ${historyLength} items)  ${openMs.toFixed(0)} ms; incremental is ${(fullMs / incrementalMs).toFixed(1)}x faster`,
  );
  sim.dispose();
}

function outDim(config: ModelConfig): number {
  return config.model === 'sasrec' ? config.hidden : config.embedding;
}

async function trainingEpochs(): Promise<void> {
  let loadDataset: (name: string, o: object) => Promise<Dataset>;
  try {
    loadDataset = ((await import('../../data/index.ts')) as { loadDataset: (name: string, o: object) => Promise<Dataset> }).loadDataset;
  } catch (e) {
    console.log(`  datasets unavailable: ${(e as Error).message}`);
    return;
  }
  for (const name of ['ml-1m', 'steam', 'books']) {
    let dataset: Dataset;
    try {
      dataset = await loadDataset(name, {});
    } catch (e) {
      console.log(`  ${name}: not loadable (${(e as Error).message.split('\n')[0]})`);
      continue;
    }
    for (const model of ['sasrec', 'gru4rec'] as const) {
      const { simulator, description } = await trainSimulator({
        dataset,
        model,
        seed: 1,
        train: { maxEpochs: 1, patience: 1 },
        progress: false,
        log: () => {},
      });
      const h = description.metrics.history[0];
      console.log(
        `  ${name.padEnd(6)} ${model.padEnd(8)} ${h.seconds.toFixed(1).padStart(6)} s/epoch (incl. valid eval), ${description.metrics.trainTargets} targets, ` +
          `${dataset.items.count} items, ${dataset.meta.trainInteractions} train interactions`,
      );
      simulator.dispose();
    }
  }
}

export async function main(): Promise<void> {
  await ensureBackend({ quiet: true });
  const numItems = arg('items', 3706);
  const batch = arg('batch', 1024);
  const steps = arg('steps', 10);
  console.log(
    `simulator stepping: ${numItems} items, batch ${batch}, histories of 15 items + ${steps} steps; backend ${backendInfo().name} (${backendInfo().reason})`,
  );
  console.log(
    `  target: >= 16,000 steps/s at batch 1024; load average now ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} on ${os.availableParallelism()} cores`,
  );
  for (const kind of ['sasrec', 'gru4rec'] as const) await stepping(kind, numItems, batch, steps);
  console.log(`  tensors alive after the runs: ${tf.memory().numTensors}`);
  if (!process.argv.includes('--no-train')) {
    console.log('simulator training, one epoch per dataset and model (default training config: batches of 32 windows of <= 51 items):');
    await trainingEpochs();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
