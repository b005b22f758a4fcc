/**
 * A systematic probe of the kernels that training needs, run on a target backend and checked
 * against a reference backend (normally `cpu`, the pure-JS backend that implements every kernel).
 *
 * Each case computes a forward pass through the ops our models use and, where tfjs-core has a
 * gradient, the gradients of a scalar loss built on it (tf.grads / tf.variableGrads / an Adam
 * step). For each case the probe records
 * - the kernels the engine dispatched on the reference backend (recorded by a wrapping backend), and
 *   which of them are not registered for the target: a missing kernel fails at run time with
 *   "Kernel 'X' not registered for backend";
 * - whether the target ran the case, and the largest difference from the reference outputs (a kernel
 *   that is registered but wrong for some dtype, shape or attribute shows up as a mismatch).
 *
 * Inputs are fixed by a seeded `Rng`, so both backends see the same numbers.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../core/rng.ts';

export interface ProbeCase {
  name: string;
  /** Builds the outputs to compare (forward values and gradients). Runs inside `tf.tidy`. */
  run: () => Record<string, tf.Tensor>;
  /** Absolute + relative tolerance for the comparison (default 1e-4). */
  tol?: number;
  /**
   * Set when the case documents a limitation of tfjs itself (it fails on the reference backend
   * too, e.g. an op without a registered gradient): reported as 'tfjs-limitation', not as a gap.
   */
  tfjsLimitation?: string;
  /** False when backends legitimately differ in values (e.g. seeded sampling): shapes and dtypes only. */
  compareValues?: boolean;
}

export type ProbeStatus =
  | 'ok' // ran on both, same outputs
  | 'missing-kernel' // the target lacks a kernel the case needs
  | 'mismatch' // ran on both, outputs differ
  | 'target-error' // the target failed for another reason
  | 'tfjs-limitation' // the reference fails as the case documents: a limitation of tfjs, not of the target
  | 'reference-error'; // the reference failed unexpectedly (a broken case)

export interface ProbeOutcome {
  name: string;
  status: ProbeStatus;
  /** Kernels the reference backend ran for this case (sorted, unique). */
  kernels: string[];
  /** Of those, the ones not registered for the target backend. */
  missingKernels: string[];
  maxDiff?: number;
  detail?: string;
}

export interface ProbeReport {
  reference: string;
  target: string;
  outcomes: ProbeOutcome[];
  /** Union of `missingKernels` over all cases. */
  missingKernels: string[];
  /** Every kernel any case ran on the reference backend. */
  kernelsUsed: string[];
}

/** Deterministic input data for the cases (the same for every backend). */
function makeData(seed: number) {
  const rng = Rng.stream(seed, 'kernel-probe');
  const normal = (n: number, scale = 1): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
    return a;
  };
  const positive = (n: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = 0.2 + 2 * rng.float();
    return a;
  };
  const ints = (n: number, hi: number): Int32Array => {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = rng.int(hi);
    return a;
  };
  /** Distinct values (no ties), so topk/argMax/max gradients are well defined. */
  const distinct = (n: number): Float32Array => {
    const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
    return Float32Array.from(order, (v) => (v - n / 2) * 0.37);
  };
  return { normal, positive, ints, distinct };
}

/** The cases: the ops listed in the backend brief, forward and backward. */
export function trainingProbeCases(seed = 7): ProbeCase[] {
  const d = makeData(seed);
  const A = d.normal(12); // [3,4]
  const B = d.normal(20); // [4,5]
  const W35 = d.normal(15); // [3,5] loss weights
  const W34 = d.normal(12);
  const X3 = d.normal(2 * 3 * 4); // [2,3,4]
  const Y3 = d.normal(2 * 5 * 4); // [2,5,4]
  const W235 = d.normal(30);
  const _W234 = d.normal(24); // drawn, unused: keeps the later draws of the stream where they were
  const POS = d.positive(12);
  const EMB = d.normal(7 * 4); // [7,4]
  const IDX = d.ints(2 * 5, 7); // [2,5]
  const W254 = d.normal(40);
  const V4 = d.normal(4);
  const C31 = d.normal(3);
  const DIST = d.distinct(12);
  const LABELS = d.ints(3, 4);
  const LABELS10 = d.ints(10, 5);
  const SEG = Int32Array.from([0, 2, 2, 4, 0, 1]); // segment 3 empty
  const X64 = d.normal(6 * 4); // [6,4]
  const W54 = d.normal(20);
  const TOK = d.ints(4 * 3, 9); // [4,3] token ids for the layers case
  const BIG_EMB = d.normal(200 * 16, 0.3);
  const BIG_IDS = d.ints(40 * 10, 200);
  const BIG_LABELS = d.ints(40, 200);
  const W_BATCHDIMS = d.normal(2 * 3 * 2);
  // Loss weights and parameters, drawn once so that every backend sees the same numbers.
  const W_GATHER_AXIS1 = d.normal(21);
  const W_STRIDED = d.normal(6);
  const W_TILE = d.normal(24);
  const W_PAD = d.normal(24);
  const W_REDUCE = d.normal(12 + 3 + 1 + 6);
  const W_TOPK = d.normal(6);
  const W_GATHERND = d.normal(8);
  const WZ = d.normal(8 * 4);
  const WH = d.normal(8 * 4);

  const t = (v: Float32Array | Int32Array, shape: number[], dtype: 'float32' | 'int32' = 'float32') => tf.tensor(v, shape, dtype);
  const wsum = (y: tf.Tensor, w: Float32Array) => tf.sum(tf.mul(y, tf.tensor(w, y.shape)));
  /** Forward value and the gradient of sum(w * f(x)) with respect to each x. */
  const fg = (f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], w: Float32Array): Record<string, tf.Tensor> => {
    const out: Record<string, tf.Tensor> = { y: f(...xs) };
    const gs = tf.grads((...ys: tf.Tensor[]) => wsum(f(...ys), w))(xs);
    gs.forEach((g, i) => (out[`dx${i}`] = g));
    return out;
  };
  const a = () => t(A, [3, 4]);

  const cases: ProbeCase[] = [
    {
      name: 'gather (embedding lookup) + grad',
      run: () => fg((e) => tf.gather(e, t(IDX, [2, 5], 'int32')), [t(EMB, [7, 4])], W254),
    },
    {
      name: 'gather axis 1 + grad',
      run: () => fg((e) => tf.gather(e, tf.tensor1d([3, 0, 3], 'int32'), 1), [t(EMB, [7, 4])], W_GATHER_AXIS1),
    },
    { name: 'matMul + grad', run: () => fg((x, y) => tf.matMul(x, y), [a(), t(B, [4, 5])], W35) },
    {
      name: 'matMul transposeA/transposeB + grad',
      run: () => fg((x, y) => tf.matMul(x, y, true, true), [t(A, [4, 3]), t(B, [5, 4])], W35),
    },
    {
      name: 'batched matMul 3-D transposeB + grad',
      run: () => fg((x, y) => tf.matMul(x, y, false, true), [t(X3, [2, 3, 4]), t(Y3, [2, 5, 4])], W235),
    },
    {
      name: 'batched matMul broadcast 3-D x 2-D forward',
      run: () => ({ y: tf.matMul(t(X3, [2, 3, 4]), t(B, [4, 5])) }),
    },
    {
      name: 'batched matMul broadcast 3-D x 2-D + grad',
      tfjsLimitation: 'BatchMatMul gradient does not reduce broadcast batch dims (reshape to 2-D instead)',
      run: () => fg((x, y) => tf.matMul(x, y), [t(X3, [2, 3, 4]), t(B, [4, 5])], W235),
    },
    {
      name: 'fused matMul bias+relu + grad',
      run: () =>
        fg((x, y, b) => tf.fused.matMul({ a: x, b: y, bias: b, activation: 'relu' }), [a(), t(B, [4, 5]), t(V4.subarray(0, 4), [4]).pad([[0, 1]])], W35),
    },
    {
      name: 'add/sub/mul/div with broadcasting + grad',
      run: () => fg((x, v, c, p) => tf.div(tf.sub(tf.mul(tf.add(x, v), c), v), p), [a(), t(V4, [4]), t(C31, [3, 1]), t(POS, [3, 4])], W34),
    },
    { name: 'softmax + grad', run: () => fg((x) => tf.softmax(x), [a()], W34) },
    { name: 'logSoftmax + grad', run: () => fg((x) => tf.logSoftmax(x), [a()], W34) },
    { name: 'logSumExp + grad', run: () => fg((x) => tf.logSumExp(x, -1), [a()], W34.subarray(0, 3)) },
    {
      name: 'log/exp/sqrt/rsqrt/square + grad',
      run: () => fg((p) => tf.addN([tf.log(p), tf.exp(p), tf.sqrt(p), tf.rsqrt(p), tf.square(p)]), [t(POS, [3, 4])], W34),
    },
    {
      name: 'sigmoid/tanh/relu/elu/leakyRelu/softplus/logSigmoid + grad',
      run: () => fg((x) => tf.addN([tf.sigmoid(x), tf.tanh(x), tf.relu(x), tf.elu(x), tf.leakyRelu(x, 0.1), tf.softplus(x), tf.logSigmoid(x)]), [a()], W34),
    },
    {
      name: 'gelu (erf form and tanh form) + grad',
      run: () =>
        fg(
          (x) => {
            const erfForm = tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
            const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
            const tanhForm = tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
            return tf.add(erfForm, tanhForm);
          },
          [a()],
          W34,
        ),
    },
    {
      name: 'layer norm (moments, rsqrt) + grad',
      run: () =>
        fg(
          (x, g, b) => {
            const { mean, variance } = tf.moments(x, -1, true);
            return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
          },
          [a(), t(V4, [4]), t(C31.subarray(0, 1), [1])],
          W34,
        ),
    },
    {
      name: 'dropout (explicit seed) + grad',
      run: () => fg((x) => tf.dropout(x, 0.4, undefined, 1234), [a()], W34),
    },
    {
      name: 'concat/stack/slice/reshape/transpose/expandDims + grad',
      run: () =>
        fg(
          (x, v) => {
            const c = tf.concat([x, tf.reshape(v, [1, 4])], 0); // [4,4]
            const s = tf.stack([c, tf.transpose(c)], 1); // [4,2,4]
            const sl = tf.slice(s, [1, 0, 1], [3, 2, 2]); // [3,2,2]
            return tf.reshape(tf.expandDims(sl, 0), [3, 4]);
          },
          [a(), t(V4, [4])],
          W34,
        ),
    },
    {
      name: 'stridedSlice forward',
      run: () => ({ y: tf.stridedSlice(t(X3, [2, 3, 4]), [0, 0, 1], [2, 3, 4], [1, 2, 2]) }),
    },
    {
      name: 'stridedSlice + grad',
      tfjsLimitation: 'no gradient registered in tfjs-core',
      run: () => fg((x) => tf.stridedSlice(x, [0, 1], [3, 4], [1, 2]), [a()], W_STRIDED),
    },
    { name: 'tile + grad', run: () => fg((x) => tf.tile(x, [2, 1]), [a()], W_TILE) },
    {
      name: 'pad + grad',
      run: () =>
        fg(
          (x) =>
            tf.pad(
              x,
              [
                [1, 0],
                [0, 2],
              ],
              0.5,
            ),
          [a()],
          W_PAD,
        ),
    },
    { name: 'reverse + grad', run: () => fg((x) => tf.reverse(x, [1]), [a()], W34) },
    {
      name: 'oneHot, cast, range, fill, zerosLike/onesLike forward',
      run: () => {
        const oh = tf.oneHot(tf.tensor1d([2, 0, 3, 1], 'int32'), 5);
        return {
          oh,
          f2i: tf.cast(tf.tensor1d([-1.7, 2.5, 0.2]), 'int32'),
          b2f: tf.cast(tf.tensor1d([1, 0, 1], 'bool'), 'float32'),
          i2b: tf.cast(tf.tensor1d([2, 0, -1, 256], 'int32'), 'bool'),
          f2b: tf.cast(tf.tensor1d([0.5, 0, -2, 256, NaN]), 'bool'),
          b2i: tf.cast(tf.tensor1d([true, false, true], 'bool'), 'int32'),
          i2f: tf.cast(tf.tensor1d([7, -3], 'int32'), 'float32'),
          r: tf.range(0, 7, 2),
          fill: tf.fill([2, 3], 1.5),
          fi: tf.fill([2], 3, 'int32'),
          zl: tf.zerosLike(a()),
          ol: tf.onesLike(a()),
        };
      },
    },
    {
      name: 'where/select + grad',
      run: () => {
        const cond = tf.greater(a(), t(W34, [3, 4]));
        return fg(
          (x, y) => tf.where(cond, x, y),
          [a(), t(W34, [3, 4])],
          W34.map((v) => v * 0.5),
        );
      },
    },
    {
      name: 'equal/greater/less/logicalAnd/logicalOr/logicalNot forward',
      run: () => {
        const x = a();
        const y = t(W34, [3, 4]);
        return {
          eq: tf.equal(x, x),
          gt: tf.greater(x, y),
          lt: tf.less(x, y),
          ge: tf.greaterEqual(x, y),
          and: tf.logicalAnd(tf.greater(x, 0), tf.less(y, 0)),
          or: tf.logicalOr(tf.greater(x, 0), tf.less(y, 0)),
          not: tf.logicalNot(tf.greater(x, 0)),
          eqi: tf.equal(tf.tensor1d([1, 2, 3], 'int32'), tf.tensor1d([1, 0, 3], 'int32')),
        };
      },
    },
    {
      name: 'max/min/argMax/argMin + grad',
      run: () => ({
        ...fg((x) => tf.add(tf.max(x, 1), tf.min(x, 0).sum()), [t(DIST, [3, 4])], C31),
        am: tf.argMax(t(DIST, [3, 4]), 1),
        an: tf.argMin(t(DIST, [3, 4]), 0),
      }),
    },
    {
      name: 'sum/mean over axes + grad',
      run: () =>
        fg(
          (x) => tf.concat([tf.sum(x, 0).reshape([-1]), tf.mean(x, [0, 2]).reshape([-1]), tf.mean(x).reshape([1]), tf.sum(x, -1, true).reshape([-1])]),
          [t(X3, [2, 3, 4])],
          W_REDUCE,
        ),
    },
    {
      name: 'cumsum (plain, exclusive, reverse) + grad',
      run: () => fg((x) => tf.addN([tf.cumsum(x, 1), tf.cumsum(x, 1, true), tf.cumsum(x, 1, false, true)]), [a()], W34),
    },
    {
      name: 'cumsum axis 0 (float, int) forward',
      run: () => ({ f: tf.cumsum(a(), 0), i: tf.cumsum(t(IDX, [2, 5], 'int32'), 0, true, true) }),
    },
    {
      name: 'cumsum axis 0 + grad',
      tfjsLimitation: 'Cumsum gradient is wrong for a non-innermost axis (transpose instead)',
      run: () => fg((x) => tf.cumsum(x, 0), [a()], W34),
    },
    {
      name: 'pow/clipByValue/maximum/minimum + grad',
      run: () =>
        fg(
          (p, x, y) => tf.addN([tf.pow(p, y), tf.pow(x, 2), tf.clipByValue(x, -0.5, 0.7), tf.maximum(x, y), tf.minimum(x, y)]),
          [t(POS, [3, 4]), a(), t(W34, [3, 4])],
          W34.map((v) => v * 0.3),
        ),
    },
    {
      name: 'neg/abs/sign/step + grad',
      run: () => ({
        ...fg((x) => tf.addN([tf.neg(x), tf.abs(x), tf.sign(x), tf.step(x)]), [a()], W34),
        signZero: tf.sign(tf.tensor1d([0, -2, 3])),
        step: tf.step(tf.tensor1d([0, -2, 3]), 0.25),
      }),
    },
    {
      name: 'int32 arithmetic, reductions and comparisons forward',
      run: () => {
        const i = t(IDX, [2, 5], 'int32');
        const j = tf.add(
          t(
            IDX.map((v) => v - 3),
            [2, 5],
            'int32',
          ),
          0,
        );
        return {
          add: tf.add(i, j),
          sub: tf.sub(i, j),
          mul: tf.mul(i, j),
          floorDiv: tf.floorDiv(i, tf.fill([2, 5], 2, 'int32')),
          mod: tf.mod(i, tf.fill([2, 5], 3, 'int32')),
          max: tf.max(i, 1),
          min: tf.min(j, 0),
          sum: tf.sum(i, 1),
          sumBool: tf.sum(tf.greater(i, j)),
          mean: tf.mean(i),
          argMax: tf.argMax(i, 1),
          gt: tf.greater(i, 3),
          gatherInt: tf.gather(i, tf.tensor1d([1, 0, 1], 'int32')),
          oneHotInt: tf.oneHot(tf.tensor1d([1, -1, 4], 'int32'), 4),
        };
      },
    },
    {
      name: 'ties: argMax, argMin, topk, max grad',
      run: () => {
        const x = tf.tensor2d([1, 3, 3, 0, 2, 2, 2, 2, -1, 5, -1, 5], [3, 4]);
        const { values, indices } = tf.topk(x, 3);
        return {
          argMax: tf.argMax(x, 1),
          argMin: tf.argMin(x, 1),
          values,
          indices,
          ...fg((y) => tf.max(y, 1), [x], Float32Array.from([1, 2, 3])),
        };
      },
    },
    {
      name: 'gather batchDims 1 + grad',
      run: () => fg((e) => tf.gather(e, tf.tensor2d([0, 2, 2, 1, 1, 0], [2, 3], 'int32'), 1, 1), [t(X3.subarray(0, 2 * 3 * 2), [2, 3, 2])], W_BATCHDIMS),
    },
    {
      name: 'larger shapes: 200-item embedding, 400 ids, full softmax + grad',
      tol: 1e-3,
      run: () => {
        const table = t(BIG_EMB, [200, 16]);
        const ids = t(BIG_IDS, [40, 10], 'int32');
        return fg(
          (e) => {
            const h = tf.mean(tf.gather(e, ids), 1); // [40,16]
            const logits = tf.matMul(h, e, false, true); // [40,200]
            return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(BIG_LABELS, 'int32'), 200), logits).reshape([1]);
          },
          [table],
          Float32Array.from([1]),
        );
      },
    },
    {
      name: 'topk forward',
      run: () => {
        const { values, indices } = tf.topk(t(DIST, [3, 4]), 2);
        return { values, indices };
      },
    },
    {
      name: 'topk + grad',
      tfjsLimitation: 'no gradient registered in tfjs-core',
      run: () => fg((x) => tf.topk(x, 2).values, [t(DIST, [3, 4])], W_TOPK),
    },
    {
      name: 'scatterND/gatherND/sparseToDense forward',
      run: () => ({
        sc: tf.scatterND(tf.tensor2d([[0], [2], [0]], [3, 1], 'int32'), t(A, [3, 4]), [4, 4]),
        gn: tf.gatherND(
          t(X3, [2, 3, 4]),
          tf.tensor2d(
            [
              [1, 2],
              [0, 1],
            ],
            [2, 2],
            'int32',
          ),
        ),
        sd: tf.sparseToDense(tf.tensor1d([1, 3, 4], 'int32'), tf.tensor1d([5, 6, 7]), [6], 0.5),
      }),
    },
    {
      name: 'gatherND + grad',
      tfjsLimitation: 'no gradient registered in tfjs-core',
      run: () =>
        fg(
          (x) =>
            tf.gatherND(
              x,
              tf.tensor2d(
                [
                  [1, 2],
                  [0, 1],
                ],
                [2, 2],
                'int32',
              ),
            ),
          [t(X3, [2, 3, 4])],
          W_GATHERND,
        ),
    },
    {
      name: 'unsortedSegmentSum (float, int, bool) + grad',
      run: () => ({
        ...fg((x) => tf.unsortedSegmentSum(x, tf.tensor1d(SEG, 'int32'), 5), [t(X64, [6, 4])], W54),
        i: tf.unsortedSegmentSum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), tf.tensor1d([1, 1, 0], 'int32'), 3),
        b: tf.unsortedSegmentSum(tf.tensor1d([1, 0, 1, 1], 'bool'), tf.tensor1d([0, 1, 0, 0], 'int32'), 2),
      }),
    },
    {
      name: 'softmaxCrossEntropy + grad',
      run: () => fg((x) => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(LABELS, 'int32'), 4), x).reshape([1]), [a()], Float32Array.from([1])),
    },
    {
      name: 'sigmoidCrossEntropy + grad',
      run: () => fg((x) => tf.losses.sigmoidCrossEntropy(tf.greater(t(W34, [3, 4]), 0), x).reshape([1]), [a()], Float32Array.from([1])),
    },
    {
      name: 'Adam and AdamW-style steps',
      run: () => {
        const emb = tf.variable(t(EMB, [7, 4]));
        const w = tf.variable(t(B, [4, 5]));
        const opt = tf.train.adam(0.05);
        const idx = t(IDX, [2, 5], 'int32');
        const loss = () => {
          const h = tf.gather(emb, idx).reshape([10, 4]);
          const logits = tf.matMul(h, w);
          return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(LABELS10, 'int32'), 5), logits) as tf.Scalar;
        };
        for (let step = 0; step < 3; step++) {
          // AdamW-style decoupled weight decay, then the Adam step.
          emb.assign(tf.mul(emb, 1 - 0.05 * 0.01));
          opt.minimize(loss);
        }
        const out = { emb: tf.clone(emb), w: tf.clone(w), loss: loss() };
        opt.dispose();
        emb.dispose();
        w.dispose();
        return out;
      },
    },
    {
      name: 'tf.variableGrads through embedding + GRU-like cell + full softmax',
      run: () => {
        const emb = tf.variable(t(EMB, [7, 4]));
        const wz = tf.variable(t(WZ, [8, 4]));
        const wh = tf.variable(t(WH, [8, 4]));
        const { value, grads } = tf.variableGrads(() => {
          const seq = tf.gather(emb, t(IDX, [2, 5], 'int32')); // [2,5,4]
          let h = tf.zeros([2, 4]);
          for (const x of tf.unstack(seq, 1)) {
            const xh = tf.concat([x, h], 1);
            const z = tf.sigmoid(tf.matMul(xh, wz));
            const c = tf.tanh(tf.matMul(xh, wh));
            h = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), c));
          }
          const logits = tf.matMul(h, emb, false, true); // full softmax over items
          return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([3, 6], 'int32'), 7), logits) as tf.Scalar;
        }, [emb, wz, wh]);
        const out: Record<string, tf.Tensor> = { value };
        [emb, wz, wh].forEach((v, i) => (out[`g${i}`] = grads[v.name]));
        emb.dispose();
        wz.dispose();
        wh.dispose();
        return out;
      },
    },
    {
      name: 'tf.layers embedding + GRU + dense, variableGrads',
      tol: 2e-4,
      run: () => {
        const seeded = (s: number) => tf.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: s });
        const model = tf.sequential({
          layers: [
            tf.layers.embedding({ inputDim: 9, outputDim: 4, inputLength: 3, embeddingsInitializer: seeded(1) }),
            tf.layers.gru({ units: 5, kernelInitializer: seeded(2), recurrentInitializer: seeded(3) }),
            tf.layers.dense({ units: 9, kernelInitializer: seeded(4) }),
          ],
        });
        const x = t(TOK, [4, 3], 'int32');
        const labels = tf.oneHot(tf.tensor1d([1, 5, 8, 0], 'int32'), 9);
        const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
        const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, model.apply(x) as tf.Tensor) as tf.Scalar, vars);
        const out: Record<string, tf.Tensor> = { value };
        vars.forEach((v, i) => (out[`g${i}`] = grads[v.name]));
        model.dispose();
        return out;
      },
    },
    {
      name: 'multinomial (seeded) forward, shapes only',
      compareValues: false,
      run: () => ({ s: tf.multinomial(t(A, [3, 4]) as tf.Tensor2D, 5, 99) }),
    },
  ];
  return cases;
}

function kernelMissingName(err: unknown): string | null {
  const msg = err instanceof Error ? err.message : String(err);
  const m = /Kernel '([^']+)' not registered for backend/.exec(msg);
  return m ? m[1] : null;
}

interface CaseRun {
  values: Map<string, { shape: number[]; dtype: string; data: Float64Array }>;
}

async function runCase(c: ProbeCase): Promise<CaseRun> {
  const outputs = tf.tidy(() => c.run());
  const values: CaseRun['values'] = new Map();
  try {
    for (const [k, v] of Object.entries(outputs)) {
      values.set(k, { shape: v.shape.slice(), dtype: v.dtype, data: Float64Array.from(v.dataSync() as ArrayLike<number>) });
    }
  } finally {
    tf.dispose(Object.values(outputs));
  }
  return { values };
}

/**
 * A backend that runs the reference backend's kernels and records the name of every kernel the
 * engine dispatches to it. (`tf.profile` would give the names too, but it swallows kernel errors
 * and turns them into unhandled rejections.) Registered for the duration of one probe.
 */
class KernelRecorder {
  readonly name: string;
  readonly seen = new Set<string>();
  private readonly kernelNames: string[] = [];

  constructor(reference: string) {
    this.name = `${reference}-kernel-recorder`;
    tf.registerBackend(this.name, tf.findBackendFactory(reference), -100);
    for (const config of tf.getKernelsForBackend(reference)) {
      if (tf.getKernel(config.kernelName, this.name) !== undefined) continue;
      const inner = config.kernelFunc;
      tf.registerKernel({
        ...config,
        backendName: this.name,
        kernelFunc: (args) => {
          this.seen.add(config.kernelName);
          return inner(args);
        },
      });
      this.kernelNames.push(config.kernelName);
    }
  }

  dispose(): void {
    if (tf.getBackend() === this.name) throw new Error('switch away from the recorder before disposing it');
    tf.removeBackend(this.name);
    for (const k of this.kernelNames) tf.unregisterKernel(k, this.name);
  }
}

function compare(ref: CaseRun, got: CaseRun, tol: number, compareValues: boolean): { maxDiff: number; detail?: string } {
  let maxDiff = 0;
  for (const [k, r] of ref.values) {
    const g = got.values.get(k);
    if (!g) return { maxDiff: Infinity, detail: `output ${k} missing` };
    if (r.shape.join(',') !== g.shape.join(',')) {
      return { maxDiff: Infinity, detail: `${k}: shape [${g.shape}] vs reference [${r.shape}]` };
    }
    if (r.dtype !== g.dtype) return { maxDiff: Infinity, detail: `${k}: dtype ${g.dtype} vs reference ${r.dtype}` };
    if (!compareValues) continue;
    for (let i = 0; i < r.data.length; i++) {
      const diff = Math.abs(r.data[i] - g.data[i]);
      const bad = !(diff <= tol * (1 + Math.abs(r.data[i]))) && !(Number.isNaN(r.data[i]) && Number.isNaN(g.data[i]));
      if (bad) return { maxDiff: diff, detail: `${k}[${i}]: ${g.data[i]} vs reference ${r.data[i]}` };
      if (diff > maxDiff) maxDiff = diff;
    }
  }
  return { maxDiff };
}

/**
 * Runs every case on `reference` then on `target` and reports, per case, what is missing or wrong
 * on the target. Leaves the active backend as it found it.
 */
export async function probeKernels(target = 'wasm', reference = 'cpu', cases: ProbeCase[] = trainingProbeCases()): Promise<ProbeReport> {
  const before = tf.getBackend();
  const outcomes: ProbeOutcome[] = [];
  const used = new Set<string>();
  const missingAll = new Set<string>();
  const recorder = new KernelRecorder(reference);
  try {
    for (const c of cases) {
      await setBackendOrThrow(recorder.name);
      recorder.seen.clear();
      let ref: CaseRun;
      try {
        ref = await runCase(c);
      } catch (err) {
        outcomes.push({
          name: c.name,
          status: c.tfjsLimitation !== undefined ? 'tfjs-limitation' : 'reference-error',
          kernels: [],
          missingKernels: [],
          detail: c.tfjsLimitation !== undefined ? `${c.tfjsLimitation}: ${errText(err)}` : errText(err),
        });
        continue;
      }
      const kernels = [...recorder.seen].sort();
      kernels.forEach((k) => used.add(k));
      const missingKernels = kernels.filter((k) => tf.getKernel(k, target) === undefined);
      missingKernels.forEach((k) => missingAll.add(k));
      await setBackendOrThrow(target);
      const base = { name: c.name, kernels, missingKernels };
      let got: CaseRun;
      try {
        got = await runCase(c);
      } catch (err) {
        const k = kernelMissingName(err);
        if (k !== null) missingAll.add(k);
        outcomes.push({
          ...base,
          status: k !== null ? 'missing-kernel' : 'target-error',
          missingKernels: k !== null && !missingKernels.includes(k) ? [...missingKernels, k] : missingKernels,
          detail: errText(err),
        });
        continue;
      }
      const { maxDiff, detail } = compare(ref, got, c.tol ?? 1e-4, c.compareValues ?? true);
      outcomes.push({ ...base, status: detail === undefined ? 'ok' : 'mismatch', maxDiff, detail });
    }
  } finally {
    await tf.setBackend(before);
    recorder.dispose();
  }
  return {
    reference,
    target,
    outcomes,
    missingKernels: [...missingAll].sort(),
    kernelsUsed: [...used].sort(),
  };
}

async function setBackendOrThrow(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`backend '${name}' could not be initialised`);
}

function errText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].slice(0, 300);
}
