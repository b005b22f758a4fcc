import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { deriveSeed, Rng, streams } from '../core/rng.ts';

test('the same seed and stream give the same draws', () => {
  const a = Rng.stream(7, 'world');
  const b = Rng.stream(7, 'world');
  const xs = Array.from({ length: 100 }, () => a.float());
  const ys = Array.from({ length: 100 }, () => b.float());
  assert.deepEqual(xs, ys);
});

test('named streams of one seed are independent of each other', () => {
  const s = streams(1);
  const world = Array.from({ length: 50 }, () => s.world.float());
  const agent = Array.from({ length: 50 }, () => s.agent.float());
  assert.notDeepEqual(world, agent);
  // Drawing from one stream does not shift another.
  const fresh = streams(1);
  for (let i = 0; i < 1000; i++) fresh.agent.float();
  assert.deepEqual(
    Array.from({ length: 50 }, () => fresh.world.float()),
    world,
  );
});

test('different seeds give different streams; deriveSeed mixes seed and name', () => {
  assert.notEqual(deriveSeed(1, 'world'), deriveSeed(2, 'world'));
  assert.notEqual(deriveSeed(1, 'world'), deriveSeed(1, 'agent'));
  assert.notDeepEqual(Rng.stream(1, 'x').float(), Rng.stream(2, 'x').float());
  assert.throws(() => deriveSeed(1.5, 'x'), /integer/);
});

test('distributions: uniform ints cover their range, normals have mean 0 and variance 1, categorical follows weights', () => {
  const rng = Rng.stream(3, 'test');
  const counts = new Array(5).fill(0);
  for (let i = 0; i < 5000; i++) counts[rng.int(5)]++;
  for (const c of counts) assert.ok(Math.abs(c - 1000) < 150, `int(5) counts ${counts}`);
  let sum = 0;
  let sq = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const x = rng.normal();
    sum += x;
    sq += x * x;
  }
  assert.ok(Math.abs(sum / n) < 0.03);
  assert.ok(Math.abs(sq / n - 1) < 0.05);
  const w = [0, 1, 3];
  const hits = [0, 0, 0];
  for (let i = 0; i < 8000; i++) hits[rng.categorical(w)]++;
  assert.equal(hits[0], 0);
  assert.ok(Math.abs(hits[2] / hits[1] - 3) < 0.35, `categorical ${hits}`);
  assert.throws(() => rng.categorical([0, 0]), /sum to zero/);
  assert.throws(() => rng.int(0), /positive integer/);
});

test('child streams are deterministic and distinct', () => {
  const a = Rng.stream(5, 'agent');
  const b = Rng.stream(5, 'agent');
  assert.equal(a.child('act').float(), b.child('act').float());
  assert.notEqual(Rng.stream(5, 'agent').child('act').float(), Rng.stream(5, 'agent').child('train').float());
});

test('no unseeded global randomness (Math dot random) anywhere in the source', () => {
  const root = path.resolve(import.meta.dirname, '..');
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|js|mjs|cjs)$/.test(name) && /Math\s*\.\s*random\b/.test(readFileSync(p, 'utf8'))) offenders.push(path.relative(root, p));
    }
  };
  for (const dir of ['core', 'compute', 'data', 'simulators', 'envs', 'agents', 'results', 'benchmarks', 'reports', 'bin', 'examples', 'scripts', 'test'])
    walk(path.join(root, dir));
  assert.deepEqual(offenders, []);
});
