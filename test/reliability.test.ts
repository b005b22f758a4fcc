/**
 * Reliability of what is written and read back:
 * - non-finite numbers: refused with the agent (or file) and the field named, never written as null;
 * - integrity: a compiled-dataset entry edited after it was written is rebuilt (content checksum),
 *   a result file whose config does not hash to its configHash is refused by every reader;
 * - a full cache disk: the warning names the file and folder, the shipped simulator is used in place;
 * - the agent contract at run time: train environments refuse the evaluation split, a non-oracle
 *   agent reading the simulator is refused, an agent leaking tensors is named.
 */
import { test, after, before, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs, { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { writeJsonAtomic } from '../core/io.ts';
import { readResult } from '../results/read.ts';
import { buildLeaderboard } from '../results/leaderboard.ts';
import { loadDataset } from '../data/index.ts';
import { writeRelease } from './fixtures/data/release.ts';
import { ensureBackend } from '../simulators/runtime.ts';
import { successorDataset } from './support/successor-dataset.ts';
import { checkpointPath, loadOrTrainSimulator, type LearnedSimulator } from '../simulators/index.ts';
import { shipCheckpoint } from '../simulators/pretrained.ts';
import type { ResultFile } from '../results/schema.ts';
import { benchIn } from './support/bench-in-process.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'prorec-reliability-'));
process.env.PRORL_CACHE_DIR = path.join(work, 'cache');
process.env.PRORL_BACKEND = 'cpu';
process.env.CI = '1';
after(() => rmSync(work, { recursive: true, force: true }));
before(async () => {
  await ensureBackend({ quiet: true });
});

const SMALL = ['--world', JSON.stringify({ numItems: 60, numUsers: 80 }), '--episodes', '6', '--progress', 'false', '--no-reference'];
const TF = JSON.stringify(import.meta.resolve('@tensorflow/tfjs'));

const bench = (args: string[]) => benchIn(work, args);

function plugin(name: string, body: string): string {
  const file = path.join(work, `${name}.mjs`);
  writeFileSync(
    file,
    `import * as tf from ${TF};\nvoid tf;\nexport default { name: '${name}', description: 'test', create() { return { name: '${name}', ${body} }; } };\n`,
  );
  return `./${name}.mjs`;
}

const STOP_AT_ONCE = `act(observations, ctx) { return Int32Array.from(observations, () => ctx.env.actionSpace.stop); }`;

/** A folder with result files of `random` (seeds 1 and 2). */
let good = '';
async function goodFolder(): Promise<string> {
  if (good) return good;
  good = path.join(work, 'good');
  const r = await bench(['--agent', 'random', '--out', good, '--seeds', '2', ...SMALL]);
  assert.equal(r.code, 0, r.err);
  return good;
}
function copyFolder(from: string, to: string): string[] {
  fs.cpSync(from, to, { recursive: true });
  return readdirSync(path.join(to, 'results')).map((f) => path.join(to, 'results', f));
}

test('a diverged loss (onLog with Infinity) fails the run, naming the agent and the field; no result file is written', async () => {
  const agent = plugin(
    'diverges',
    `async train(makeEnv, budget, ctx) { ctx.callbacks.onLog(1, { loss: 0.5 }); ctx.callbacks.onLog(2, { loss: Infinity }); }, ${STOP_AT_ONCE}`,
  );
  const out = path.join(work, 'diverged');
  const r = await bench(['--agent', agent, '--out', out, '--seeds', '1', ...SMALL]);
  assert.equal(r.code, 1);
  assert.match(r.err, /agent diverges: non-finite value in its training log \(curves\.train, step 2\): loss = Infinity/);
  assert.equal(existsSync(path.join(out, 'results')) ? readdirSync(path.join(out, 'results')).length : 0, 0);
});

test('JSON writers refuse NaN and ±Infinity, naming the file and the field, and write nothing', () => {
  const file = path.join(work, 'nan.json');
  assert.throws(() => writeJsonAtomic(file, { a: [1, { b: NaN }], c: -Infinity }), /nan\.json: not finite: a\.1\.b = NaN, c = -Infinity/);
  assert.ok(!existsSync(file));
});

test('a hand-edited 1e999 metric is refused by every reader with the file and field named (not dropped, not written back as null)', async () => {
  const dir = path.join(work, 'edited');
  const [file] = copyFolder(await goodFolder(), dir);
  const text = readFileSync(file, 'utf8');
  const edited = text.replace(/("metrics": \{\s*"ioi": )-?[0-9.e+-]+/, '$11e999');
  assert.notEqual(edited, text);
  writeFileSync(file, edited);
  assert.throws(
    () => readResult(file),
    (e: Error) => e.message.includes(file) && /metrics\.ioi: Infinity is not a finite number/.test(e.message),
  );
  const lb = await bench(['leaderboard', dir]);
  assert.equal(lb.code, 2);
  assert.match(lb.err, /metrics\.ioi: Infinity is not a finite number/);
  const merged = await bench(['merge', dir, '--out', path.join(work, 'edited-merged'), '--allow-partial']);
  assert.equal(merged.code, 2);
  assert.match(merged.err, /metrics\.ioi: Infinity is not a finite number/);
  assert.ok(!existsSync(path.join(work, 'edited-merged', 'results')), 'merge wrote nothing');
});

test('finite values that overflow when averaged stop the leaderboard with the metric named (no NaN interval ends)', async () => {
  const results = readdirSync(path.join(await goodFolder(), 'results')).map((f) => readResult(path.join(good, 'results', f)));
  const huge = results.map((r): ResultFile => ({ ...r, metrics: { ...r.metrics, ioi: 1.7e308 } }));
  assert.throws(() => buildLeaderboard(huge), /synthetic-v0\/random\/ioi: the values \(1\.7e\+308, 1\.7e\+308\) overflow when aggregated/);
});

test('a result file whose run.config does not hash to its configHash is refused by every reader', async () => {
  const dir = path.join(work, 'rehashed');
  const [file] = copyFolder(await goodFolder(), dir);
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  doc.run.config.episodes += 1;
  writeFileSync(file, JSON.stringify(doc));
  assert.throws(() => readResult(file), /run\.configHash: [0-9a-f]{12}… is not the hash of run\.config/);
  const lb = await bench(['leaderboard', dir]);
  assert.equal(lb.code, 2);
  assert.match(lb.err, /is not the hash of run\.config/);
  const merged = await bench(['merge', dir, '--out', path.join(work, 'rehashed-merged'), '--allow-partial']);
  assert.equal(merged.code, 2);
  assert.match(merged.err, /is not the hash of run\.config/);
});

test('a compiled-dataset entry whose body was edited (every test target +1, header intact) is rebuilt with a warning', async () => {
  const data = path.join(work, 'ds', 'data');
  const cache = path.join(work, 'ds', 'cache');
  writeRelease(data, 'ml-1m');
  const original = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache });
  const [entry] = readdirSync(path.join(cache, 'compiled'));
  const file = path.join(cache, 'compiled', entry);
  const buf = readFileSync(file);
  const magicEnd = buf.indexOf(10);
  const lengthEnd = buf.indexOf(10, magicEnd + 1);
  const headerLength = Number(
    buf
      .subarray(magicEnd + 1, lengthEnd)
      .toString()
      .split(' ')[0],
  );
  const header = JSON.parse(buf.subarray(lengthEnd + 1, lengthEnd + 1 + headerLength).toString());
  const bodyStart = lengthEnd + 1 + headerLength;
  const ref = header.arrays['test.targets'] as { offset: number; length: number };
  for (let i = 0; i < ref.length; i++) buf.writeInt32LE(buf.readInt32LE(bodyStart + ref.offset + 4 * i) + 1, bodyStart + ref.offset + 4 * i);
  writeFileSync(file, buf);
  const logs: string[] = [];
  const again = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, log: (l) => logs.push(l) });
  assert.match(logs.join('\n'), /warning: .*not a usable cache entry \(content checksum mismatch.*\); rebuilding/);
  assert.deepEqual(
    again.cases.test.map((c) => c.target),
    original.cases.test.map((c) => c.target),
    'the edited targets are not served',
  );
});

test('a pre-trained policy whose cached weights were edited (header intact) is trained again with a warning; the result is as a clean run', async () => {
  const args = [
    '--agent',
    'supervised',
    '--agent-config',
    JSON.stringify({ policy: { dim: 8 }, supervised: { epochs: 1, maxTrainCases: 24, maxValidCases: 8 } }),
    '--seeds',
    '1',
    ...SMALL,
  ];
  const clean = await bench([...args, '--out', path.join(work, 'pre-clean')]);
  assert.equal(clean.code, 0, clean.err);
  const policies = path.join(process.env.PRORL_CACHE_DIR!, 'policies');
  const [entry] = readdirSync(policies).filter((f) => f.startsWith('pretrain-'));
  const file = path.join(policies, entry);
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  const name = Object.keys(doc.params)[0];
  const w = Buffer.from(doc.params[name], 'base64');
  w.writeFloatLE(w.readFloatLE(0) + 1, 0);
  doc.params[name] = w.toString('base64');
  writeFileSync(file, JSON.stringify(doc));
  const stderr = mock.method(process.stderr, 'write', () => true);
  let again;
  try {
    again = await bench([...args, '--out', path.join(work, 'pre-edited')]);
  } finally {
    stderr.mock.restore();
  }
  assert.equal(again.code, 0, again.err);
  const warned = stderr.mock.calls.map((c) => String(c.arguments[0])).join('');
  assert.match(warned, /warning: .*pretrain-.*: not a usable pre-trained policy \(content checksum mismatch/);
  const [a] = readdirSync(path.join(work, 'pre-clean', 'results'));
  const strip = (f: string) => {
    const { timings: _t, ...rest } = readResult(f);
    return rest;
  };
  assert.deepEqual(strip(path.join(work, 'pre-edited', 'results', a)), strip(path.join(work, 'pre-clean', 'results', a)));
});

test('a full cache disk: the warning names the file and folder, and the verified shipped simulator is used in place', async () => {
  const dataset = successorDataset({ numItems: 30, users: 80, length: 14, follow: 0.8 });
  const spec = {
    dataset,
    model: 'gru4rec' as const,
    seed: 1,
    config: { embedding: 8, hidden: 12, dropout: 0.3, maxLen: 10 },
    train: { learningRate: 5e-3, batchSize: 16, maxEpochs: 2, patience: 2 },
  };
  const scores = (sim: LearnedSimulator) => {
    const b = sim.open([[1, 2, 3]]);
    const s = Array.from(b.scores());
    b.dispose();
    return s;
  };
  const trained = await loadOrTrainSimulator({ ...spec, cacheDir: path.join(work, 'sim-trained'), workers: 0, log: () => {}, pretrainedDir: null });
  const want = scores(trained);
  await trained.dispose();
  const shipped = path.join(work, 'sim-shipped');
  shipCheckpoint(checkpointPath({ ...spec, cacheDir: path.join(work, 'sim-trained') }), shipped);
  const cache = path.join(work, 'sim-full');
  const enospc = mock.method(fs, 'writeSync', () => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  });
  syncBuiltinESMExports();
  const lines: string[] = [];
  let sim: LearnedSimulator;
  try {
    sim = await loadOrTrainSimulator({ ...spec, cacheDir: cache, workers: 0, log: (l) => lines.push(l), pretrainedDir: shipped });
  } finally {
    enospc.mock.restore();
    syncBuiltinESMExports();
  }
  const file = checkpointPath({ ...spec, cacheDir: cache });
  const log = lines.join('\n');
  assert.ok(log.includes(`could not write ${file} (in folder ${path.dirname(file)}): no space left on the device`), log);
  assert.match(log, /using the verified shipped checkpoint .*sim-shipped.* in place/);
  assert.doesNotMatch(log, /training it now/);
  assert.deepEqual(scores(sim), want);
  await sim.dispose();
  assert.ok(!existsSync(file));
  assert.deepEqual(existsSync(path.dirname(file)) ? readdirSync(path.dirname(file)) : [], [], 'no temporary file left');
});

test('the agent contract at run time: train environments refuse the test split; a non-oracle agent reading the simulator is refused', async () => {
  const peeker = plugin(
    'peeker',
    `act(observations, ctx) { void ctx.env.world.simulator.numItems; return Int32Array.from(observations, () => ctx.env.actionSpace.stop); }`,
  );
  const a = await bench(['--agent', peeker, '--out', path.join(work, 'peek'), '--seeds', '1', ...SMALL]);
  assert.equal(a.code, 1);
  assert.match(a.err, /peeker: read ctx\.env\.world\.simulator, which is not part of what an agent may read while acting.*usesSimulator: true/);
  const cheat = plugin('cheat', `async train(makeEnv) { const env = await makeEnv(2); env.reset({ seed: 1, options: { split: 'test' } }); }, ${STOP_AT_ONCE}`);
  const b = await bench(['--agent', cheat, '--out', path.join(work, 'cheat'), '--seeds', '1', ...SMALL]);
  assert.equal(b.code, 1);
  assert.match(b.err, /agent cheat \(train\): the test split is not open to it \(this environment allows train, valid\)/);
  const fair = plugin(
    'fair',
    `async train(makeEnv) { const env = await makeEnv(2); env.reset({ seed: 1, options: { split: 'valid' } }); env.reset({ seed: 1 }); }, ${STOP_AT_ONCE}`,
  );
  const c = await bench(['--agent', fair, '--out', path.join(work, 'fair'), '--seeds', '1', ...SMALL]);
  assert.equal(c.code, 0, c.err);
});

test('an agent whose act leaves tensors behind call after call is named in a warning', async () => {
  const leaky = plugin(
    'leaky',
    `act(observations, ctx) { tf.zeros([2]); return Int32Array.from(observations, (o) => (o.step >= 2 ? ctx.env.actionSpace.stop : o.actionMask.indexOf(1))); }`,
  );
  const r = await bench(['--agent', leaky, '--out', path.join(work, 'leaky'), '--seeds', '1', ...SMALL]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /warning: agent leaky leaks tensors: \d+ more after \d+ of its \d+ act calls/);
  const tidy = await bench(['--agent', 'random', '--out', path.join(work, 'tidy'), '--seeds', '1', ...SMALL]);
  assert.doesNotMatch(tidy.err, /leaks tensors/);
});
