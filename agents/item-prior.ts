/**
 * Collaborative item factors from the train split's sequences: the `cooccurrence` item prior of
 * the policy (agents/policy.ts, `PolicyConfig.itemPrior`).
 *
 * Items that users consume close together in time get nearby factors, which is the geometry a
 * sequential user simulator (SASRec, GRU4Rec) learns too, so a policy can tell from the target's
 * factors which items lead towards it. Only the train split is read: the agent never sees a valid
 * or test sequence, nor the simulator.
 *
 * Method: positive pointwise mutual information of item pairs within a window (Levy, Goldberg &
 * Dagan, "Improving distributional similarity with lessons learned from word embeddings", TACL
 * 2015: distribution smoothing α = 0.75, here on both items of a pair), factorised by a randomised truncated SVD
 * (Halko, Martinsson & Tropp, SIAM Review 2011: Gaussian sketch, power iterations); the factors
 * are U·√Σ of the top `rank` singular triplets. Items never seen in the train split get zeros.
 * Deterministic: the sketch is drawn from a fixed stream, so the factors depend on the data only.
 */
import { EigenvalueDecomposition, Matrix, QrDecomposition } from 'ml-matrix';
import { Rng } from '../core/rng.ts';
import { normalArray } from './nn.ts';
import { ConfigError, ContractError } from '../core/errors.ts';

/** Options of the co-occurrence factors. */
export interface CooccurrenceOptions {
  /** Number of factors per item (the SVD's rank). */
  readonly rank: number;
  /** Two items co-occur when at most `window` positions apart in a sequence. */
  readonly window: number;
}

/** Context-distribution smoothing exponent of PPMI (Levy et al. 2015, §3.2). */
export const PPMI_SMOOTHING = 0.75;
/** Extra columns of the randomised SVD's sketch, and its power iterations (Halko et al. 2011, §4). */
const OVERSAMPLING = 8;
const POWER_ITERATIONS = 3;

/** A symmetric sparse matrix in compressed sparse row form. */
interface Csr {
  readonly n: number;
  readonly rowStart: Int32Array;
  readonly cols: Int32Array;
  readonly values: Float64Array;
}

/**
 * The PPMI matrix [N × N] of item pairs at most `window` apart in `sequences` (ids in [0, N)),
 * symmetric, zero diagonal.
 */
export function ppmiMatrix(numItems: number, sequences: readonly (readonly number[])[], window: number): Csr {
  const N = numItems;
  const counts = new Map<number, number>();
  const marginal = new Float64Array(N);
  let total = 0;
  for (const s of sequences) {
    for (let a = 0; a < s.length; a++) {
      for (let b = a + 1; b < s.length && b <= a + window; b++) {
        const i = s[a];
        const j = s[b];
        if (i === j) continue;
        if (i < 0 || i >= N || j < 0 || j >= N) throw new ContractError(`cooccurrence: item ${i < 0 || i >= N ? i : j} outside [0, ${N})`);
        counts.set(i * N + j, (counts.get(i * N + j) ?? 0) + 1);
        counts.set(j * N + i, (counts.get(j * N + i) ?? 0) + 1);
        marginal[i] += 1;
        marginal[j] += 1;
        total += 2;
      }
    }
  }
  let smoothedTotal = 0;
  for (let i = 0; i < N; i++) smoothedTotal += marginal[i] ** PPMI_SMOOTHING;
  // PPMI(i, j) = max(0, log( P(i, j) / (P_α(i) · P_α(j)) )), P_α(i) = #i^α / Σ #k^α: the smoothing
  // on both items (Levy et al. smooth the context only), so that the matrix stays symmetric.
  const entries: { key: number; value: number }[] = [];
  for (const [key, c] of counts) {
    const i = Math.floor(key / N);
    const j = key - i * N;
    const pmi = Math.log(c / total) - Math.log(marginal[i] ** PPMI_SMOOTHING / smoothedTotal) - Math.log(marginal[j] ** PPMI_SMOOTHING / smoothedTotal);
    if (pmi > 0) entries.push({ key, value: pmi });
  }
  entries.sort((x, y) => x.key - y.key);
  const rowStart = new Int32Array(N + 1);
  const cols = new Int32Array(entries.length);
  const values = new Float64Array(entries.length);
  entries.forEach((e, k) => {
    const i = Math.floor(e.key / N);
    rowStart[i + 1]++;
    cols[k] = e.key - i * N;
    values[k] = e.value;
  });
  for (let i = 0; i < N; i++) rowStart[i + 1] += rowStart[i];
  return { n: N, rowStart, cols, values };
}

/** A·X for sparse A [n × n] and dense X [n × k]. */
function sparseTimes(A: Csr, X: Matrix): Matrix {
  const k = X.columns;
  const out = new Matrix(A.n, k);
  const x = X.to2DArray();
  for (let i = 0; i < A.n; i++) {
    const row = new Float64Array(k);
    for (let p = A.rowStart[i]; p < A.rowStart[i + 1]; p++) {
      const v = A.values[p];
      const xr = x[A.cols[p]];
      for (let c = 0; c < k; c++) row[c] += v * xr[c];
    }
    for (let c = 0; c < k; c++) out.set(i, c, row[c]);
  }
  return out;
}

const orthonormal = (Y: Matrix): Matrix => new QrDecomposition(Y).orthogonalMatrix;

/**
 * Co-occurrence factors of every item [N × rank], row-major: U_r·√Σ_r of the randomised SVD of the
 * PPMI matrix of `sequences` (the train split). Rows of items absent from `sequences` are zero.
 * @throws RangeError when an item id is outside [0, numItems) or rank ≥ numItems.
 */
export function cooccurrenceFactors(numItems: number, sequences: readonly (readonly number[])[], opts: CooccurrenceOptions): Float32Array {
  const { rank, window } = opts;
  if (rank >= numItems) throw new ConfigError(`cooccurrence: rank ${rank} must be below the number of items (${numItems})`);
  const A = ppmiMatrix(numItems, sequences, window);
  const k = Math.min(numItems, rank + OVERSAMPLING);
  // Range finder: Q spans the top singular directions of A (symmetric, so Aᵀ = A).
  const omega = new Matrix(numItems, k);
  const draws = normalArray(Rng.stream(0, 'item-prior/cooccurrence-sketch'), numItems * k, 1);
  for (let i = 0; i < numItems; i++) for (let c = 0; c < k; c++) omega.set(i, c, draws[i * k + c]);
  let Q = orthonormal(sparseTimes(A, omega));
  for (let it = 0; it < POWER_ITERATIONS; it++) Q = orthonormal(sparseTimes(A, orthonormal(sparseTimes(A, Q))));
  // B = Qᵀ A [k × N]; B Bᵀ = W Σ² Wᵀ gives A ≈ (Q W) Σ Vᵀ.
  const Bt = sparseTimes(A, Q); // = (Qᵀ A)ᵀ
  const gram = Bt.transpose().mmul(Bt);
  const eig = new EigenvalueDecomposition(gram, { assumeSymmetric: true });
  const lambda = eig.realEigenvalues;
  const order = lambda.map((_, i) => i).sort((a, b) => lambda[b] - lambda[a] || a - b);
  const U = Q.mmul(eig.eigenvectorMatrix);
  const out = new Float32Array(numItems * rank);
  for (let r = 0; r < rank; r++) {
    const col = order[r];
    const scale = Math.sqrt(Math.sqrt(Math.max(0, lambda[col])));
    // A fixed sign per factor (its largest entry positive), so the factors do not depend on the solver's.
    let sign = 1;
    let best = 0;
    for (let i = 0; i < numItems; i++) {
      const v = U.get(i, col);
      if (Math.abs(v) > best) {
        best = Math.abs(v);
        sign = v < 0 ? -1 : 1;
      }
    }
    for (let i = 0; i < numItems; i++) out[i * rank + r] = sign * scale * U.get(i, col) + 0; // + 0: no −0 for unseen items
  }
  return out;
}

const cache = new WeakMap<readonly (readonly number[])[], Map<string, Float32Array>>();

/** `cooccurrenceFactors`, computed once per sequences array and options in a process. */
export function cachedCooccurrenceFactors(numItems: number, sequences: readonly (readonly number[])[], opts: CooccurrenceOptions): Float32Array {
  let byKey = cache.get(sequences);
  if (!byKey) cache.set(sequences, (byKey = new Map()));
  const key = `${numItems}/${opts.rank}/${opts.window}`;
  let f = byKey.get(key);
  if (!f) byKey.set(key, (f = cooccurrenceFactors(numItems, sequences, opts)));
  return f;
}
