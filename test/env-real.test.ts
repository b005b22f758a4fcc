/**
 * The real environments pass checkEnv on the release snapshot (when ../shared is present). Their
 * simulators are trained here for one epoch on 400 of their sequences into a temporary cache: this checks the wiring
 * (data → simulators → environment), not simulator quality (see `npm run sim -- eval`).
 * `npm test` checks ml-1m-v0 with small simulators (SASRec of one block of width 16, GRU4Rec of
 * width 16; ~20 s instead of ~2 min for the default architectures on 2 loaded cores);
 * `npm run test:real` (PRORL_REAL_ENVS=all) checks all three with the default architectures, a few
 * minutes; CI (.ci/run) runs both. A last test per environment checks that a first run with an
 * empty cache uses the shipped pre-trained simulators (simulators/pretrained.ts) and trains nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { initBackend } from '../compute/backend.ts';
import { checkEnv, make, listEnvs } from '../envs/index.ts';

const snapshot = process.env.PRORL_SNAPSHOT_DIR ?? path.resolve(import.meta.dirname, '../../shared/datasets/prorl-snapshot');
const skip = existsSync(snapshot)
  ? false
  : `no ../shared/datasets/prorl-snapshot (looked in ${snapshot}); set PRORL_SNAPSHOT_DIR to run the real-environment checks`;
const cacheDir = mkdtempSync(path.join(tmpdir(), 'prorec-env-real-'));
after(() => rmSync(cacheDir, { recursive: true, force: true }));

test('the real environments are registered', () => {
  const ids = listEnvs().map((e) => e.id);
  for (const id of ['ml-1m-v0', 'steam-v0', 'books-v0', 'synthetic-learned-v0']) assert.ok(ids.includes(id), id);
});

const all = process.env.PRORL_REAL_ENVS === 'all';
/** The wiring check of `npm test`: the same code paths with small simulators. */
const SMALL_SIMULATORS = { rewardConfig: { hidden: 16, blocks: 1, feedForward: 32 }, evaluatorConfig: { embedding: 16, hidden: 16 } };
for (const id of ['ml-1m-v0', 'steam-v0', 'books-v0']) {
  const envSkip = skip || (all || id === 'ml-1m-v0' ? false : 'run `npm run test:real` to check this environment too (about a minute each)');
  const sizes = all ? {} : SMALL_SIMULATORS;
  test(`${id} passes checkEnv on the snapshot (simulators trained one epoch${all ? '' : ', small'})`, { skip: envSkip }, async () => {
    await initBackend({ quiet: true });
    const env = await make(id, {
      world: { cacheDir, workers: 0, ...sizes, simulatorTrain: { maxEpochs: 1, validLimit: 200, trainLimit: 400 } },
      log: () => {},
    });
    assert.match(env.world.simulator.id, /sasrec/);
    assert.match(env.world.evaluator!.id, /gru4rec/);
    assert.equal(env.world.dataset.cases.test.length, { 'ml-1m-v0': 6928, 'steam-v0': 10240, 'books-v0': 8704 }[id]);
    checkEnv(env, { seeds: [1, 2] });
    env.close();
  });
}

for (const id of ['ml-1m-v0', 'steam-v0', 'books-v0']) {
  const envSkip = skip || (all || id === 'ml-1m-v0' ? false : 'run `npm run test:real` to check this environment too (about 10 s each)');
  test(`${id}: a first run with an empty cache uses the shipped pre-trained simulators, verified, and trains nothing`, { skip: envSkip }, async () => {
    await initBackend({ quiet: true });
    const fresh = mkdtempSync(path.join(tmpdir(), 'prorec-env-shipped-'));
    const lines: string[] = [];
    try {
      const env = await make(id, { world: { cacheDir: fresh, workers: 0 }, log: (l: string) => lines.push(l) });
      const log = lines.join('\n');
      assert.equal(log.match(/loaded the shipped pre-trained checkpoint .* recomputed here/g)?.length, 2, log);
      assert.doesNotMatch(log, /training it now|is not used/);
      checkEnv(env, { seeds: [1] });
      env.close();
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });
}
