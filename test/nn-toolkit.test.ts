/**
 * The neural toolkit (compute/nn/) that the simulators and the policy share: Adam's state restores
 * exactly in both moment modes, the two op orders of layer norm and attention agree up to
 * round-off, and one query against cached keys equals the last row of whole-window attention.
 * (Bit-exactness of each model against its own earlier numbers: test/sim-*.test.ts,
 * test/fast-paths.test.ts, the resume tests and the regression gate.)
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../compute/backend.ts';
import { Adam, attention, attentionWeights, layerNorm, ParamSet, queryKeyDots } from '../compute/nn/index.ts';
import { normalArray } from '../compute/nn/init.ts';
import { Rng } from '../core/rng.ts';
import { ConfigError } from '../core/errors.ts';

before(async () => {
  await initBackend({ quiet: true });
});

const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

function params(seed: number): ParamSet {
  const rng = Rng.stream(seed, 'nn-toolkit');
  const p = new ParamSet('nn-test');
  p.add('w', [4, 3], normalArray(rng, 12, 1), { decay: true });
  p.add('b', [3], normalArray(rng, 3, 1));
  return p;
}

function gradients(p: ParamSet, step: number): Record<string, tf.Tensor> {
  const rng = Rng.stream(step, 'grads');
  return { w: tf.tensor(normalArray(rng, 12, 1), [4, 3]), b: tf.tensor(normalArray(rng, 3, 1), [3]) };
}

for (const zeroMoments of [false, true]) {
  test(`Adam (${zeroMoments ? 'zero' : 'lazy'} moments): a state restored after 3 of 6 updates ends with the weights of 6 uninterrupted updates`, () => {
    const config = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, clipNorm: 2 };
    const run = (p: ParamSet, opt: Adam, from: number, to: number) => {
      for (let s = from; s < to; s++) {
        const g = gradients(p, s);
        opt.apply(g, s === 4 ? 0.5 : 1);
        tf.dispose(Object.values(g));
      }
    };
    const a = params(1);
    const optA = new Adam(a, config, { zeroMoments });
    run(a, optA, 0, 6);
    const b = params(1);
    const optB = new Adam(b, config, { zeroMoments });
    run(b, optB, 0, 3);
    const saved = { weights: b.snapshot(), state: optB.state() };
    optB.dispose();
    b.dispose();
    const c = params(2);
    c.restore(saved.weights);
    const optC = new Adam(c, config, { zeroMoments });
    optC.setState(saved.state);
    assert.equal(optC.step, 3);
    run(c, optC, 3, 6);
    assert.deepEqual(c.snapshot(), a.snapshot());
    assert.deepEqual(optC.state(), optA.state());
    if (zeroMoments) assert.throws(() => optC.setState({ step: 1, m: {}, v: {} }), ConfigError, 'zero moments: every parameter must have its moments');
    for (const x of [optA, optC]) x.dispose();
    for (const x of [a, c]) x.dispose();
  });
}

test("layer norm's two op orders (rsqrt, divide) and attention's two scalings agree up to round-off", () => {
  tf.tidy(() => {
    const x = tf.randomNormal([6, 8], 0, 1, 'float32', 1);
    const gain = tf.randomNormal([8], 1, 0.1, 'float32', 2);
    const bias = tf.randomNormal([8], 0, 0.1, 'float32', 3);
    const eps = 1e-5;
    assert.ok(maxAbsDiff(layerNorm(x, gain, bias, { epsilon: eps, scale: 'rsqrt' }), layerNorm(x, gain, bias, { epsilon: eps, scale: 'divide' })) < 1e-5);
    const q = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 4);
    const k = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 5);
    const v = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 6);
    const mask = tf.zeros([2, 5, 5]);
    assert.ok(maxAbsDiff(attention(q, k, v, mask, { scale: 'multiply' }), attention(q, k, v, mask, { scale: 'divide' })) < 1e-5);
  });
});

test('one query against cached keys and values equals the last row of causal whole-window attention', () => {
  tf.tidy(() => {
    const [B, S, d] = [3, 6, 8];
    const q = tf.randomNormal([B, S, d], 0, 1, 'float32', 7);
    const k = tf.randomNormal([B, S, d], 0, 1, 'float32', 8);
    const v = tf.randomNormal([B, S, d], 0, 1, 'float32', 9);
    const causal = new Float32Array(S * S);
    for (let i = 0; i < S; i++) for (let j = i + 1; j < S; j++) causal[i * S + j] = -1e9;
    const full = attention(q, k, v, tf.tensor2d(causal, [S, S]), { scale: 'divide' });
    const last = tf.reshape(tf.slice(full, [0, S - 1, 0], [B, 1, d]), [B, d]);
    const query = tf.slice(q, [0, S - 1, 0], [B, 1, d]); // [B, 1, d] against keys [B, S, d]
    const weights = attentionWeights(queryKeyDots(query, k), d, tf.zeros([B, S]), { scale: 'divide' });
    const cached = tf.sum(tf.mul(tf.expandDims(weights, 2), v), 1);
    assert.ok(maxAbsDiff(cached, last) < 1e-5);
  });
});
