/**
 * The compute backend, chosen once at start-up.
 *
 * tfjs has one global engine per process. `initBackend()` picks its backend:
 * - `tensorflow`: tfjs-node (native libtensorflow), when `@tensorflow/tfjs-node` loads. It is an
 *   optional dependency whose install script downloads libtensorflow; where that download is not
 *   possible it is simply absent, and this branch says why it was skipped.
 * - `wasm`: `@tensorflow/tfjs-backend-wasm` (XNNPACK, SIMD; one thread in Node, so use worker
 *   threads for parallel work). It lacks some kernels training needs; `initBackend` registers the
 *   JS fallbacks from `./kernels/index.ts` (e.g. UnsortedSegmentSum, the gradient of `gather`).
 *   In Node it finds its .wasm files next to its own module: no `setWasmPaths` needed.
 * - `cpu`: the pure-JS backend, always available, about 20x slower than wasm on matmuls.
 *
 * On wasm, the native kernels addon (compute/kernels/native-matmul.ts; built at install time when a
 * C compiler is there, or by `prorec-gym build-native`) runs BatchMatMul and a few passes with the
 * wasm kernels' bits: used when built (PRORL_BLAS=auto, the default; the backend line says whether
 * and why not), required with PRORL_BLAS=exact, never with PRORL_BLAS=wasm. PRORL_BLAS=native runs
 * the products on OpenBLAS instead (other round-off). Asked for and missing, either is an error.
 *
 * Automatic choice: the first of tensorflow, wasm, cpu that works. An explicit choice (option
 * `backend`, else the `PRORL_BACKEND` environment variable; `node` is an alias of `tensorflow`) is
 * honoured or is an error naming the backend and why: there is no silent fallback.
 */
import * as tf from '@tensorflow/tfjs';
import { activeNativeBlas, activeNativeProducts, registerNativeBlasKernels, registerWasmFallbackKernels } from './kernels/index.ts';
import { BLAS_ENV_VAR, blasChoice, loadNativeBlas, loadNativeBlasIfBuilt, type NativeBlas } from './kernels/native-matmul.ts';
import { UsageError } from '../core/errors.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/** Accepted names, in automatic-choice order. */
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

/** User-facing aliases. */
export const BACKEND_ALIASES: Readonly<Record<string, BackendName>> = { node: 'tensorflow' };

/** The environment variable read when no backend is passed explicitly. */
export const BACKEND_ENV_VAR = 'PRORL_BACKEND';

export interface BackendInfo {
  name: BackendName;
  /** What the user asked for (as given, option or environment), or null for the automatic choice. */
  requested: string | null;
  /** Why this backend: what was requested or tried, and details of the backend (e.g. SIMD, threads). */
  reason: string;
  /** Version of tfjs in use. */
  tfjsVersion: string;
}

export interface InitBackendOptions {
  /** 'tensorflow' | 'node' | 'wasm' | 'cpu'. Overrides PRORL_BACKEND. */
  backend?: string;
  /** Do not print the `backend: ...` line. */
  quiet?: boolean;
  /** Where the `backend: ...` line goes (default: stderr). */
  log?: (line: string) => void;
}

let current: BackendInfo | null = null;
let pending: Promise<BackendInfo> | null = null;

/** Parses a user-given backend name (case-insensitive, `node` = `tensorflow`); throws on unknown names. */
export function parseBackendName(raw: string, source = 'backend'): BackendName {
  const key = raw.trim().toLowerCase();
  if ((BACKEND_NAMES as readonly string[]).includes(key)) return key as BackendName;
  const alias = BACKEND_ALIASES[key];
  if (alias !== undefined) return alias;
  const aliases = Object.entries(BACKEND_ALIASES).map(([a, n]) => `'${a}' (= ${n})`);
  throw new UsageError(
    `unknown backend '${raw}' from ${source}; accepted names: ${BACKEND_NAMES.map((n) => `'${n}'`).join(', ')}` +
      (aliases.length > 0 ? `, and alias ${aliases.join(', ')}` : ''),
  );
}

/**
 * Checks the environment variables of the compute layer (PRORL_BACKEND, PRORL_BLAS) without loading
 * anything: a UsageError naming the variable when one has a value that is not accepted. Command
 * lines call it before they write anything.
 */
export function checkComputeEnv(env: NodeJS.ProcessEnv = process.env): void {
  const raw = env[BACKEND_ENV_VAR];
  if (raw !== undefined && raw.trim() !== '') parseBackendName(raw, `${BACKEND_ENV_VAR}=${raw}`);
  blasChoice(env);
}

/**
 * Chooses and initialises the backend (see the module comment). Idempotent: later calls return the
 * same info; a later call that explicitly asks for a different backend is an error. Does not undo
 * a later `tf.setBackend` by other code.
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  const request = explicitRequest(opts);
  const wanted = request === null ? null : parseBackendName(request.raw, request.source);
  while (pending !== null) {
    try {
      await pending;
    } catch {
      // The other call failed: it reported its own error; this one decides afresh below.
    }
  }
  if (current !== null) {
    if (wanted !== null && wanted !== current.name) {
      throw new UsageError(
        `backend '${wanted}' requested by ${request!.source}, but the backend is already initialised as ` +
          `'${current.name}' (${current.reason}); choose the backend once, at start-up`,
      );
    }
    return current;
  }
  const run = choose(wanted, request);
  pending = run;
  try {
    const info = await run;
    current = info;
    if (!opts.quiet) (opts.log ?? ((line: string) => process.stderr.write(line + '\n')))(`backend: ${info.name} (${info.reason})`);
    return info;
  } finally {
    pending = null;
  }
}

/** The current backend's info; throws if `initBackend` has not completed. */
export function backendInfo(): BackendInfo {
  if (current === null) throw new Error('backend not initialised: call `await initBackend()` first');
  return current;
}

/**
 * What sets the float round-off of a computation here: tfjs's active backend and, on wasm, whether
 * the matrix products run on OpenBLAS (PRORL_BLAS=native, with OpenBLAS's build and the CPU core
 * it picked; the addon's exact kernels give the wasm kernels' bits, so they do not count), and the
 * tfjs version, e.g. 'wasm, tfjs 4.22.0' or 'wasm+native-blas(OpenBLAS
 * 0.3.21 … Cooperlake …), tfjs 4.22.0'. The same training gives other bits under another value,
 * so caches of trained weights (agents/supervised.ts) key on it. Throws before a backend is active.
 */
export function numericsId(): string {
  const backend = tf.getBackend();
  if (!backend) throw new Error('numericsId: no tfjs backend is active yet');
  const native = activeNativeProducts() === 'native' ? activeNativeBlas() : null;
  return `${backend}${native ? `+native-blas(${native.config()})` : ''}, tfjs ${tf.version.tfjs}`;
}

/**
 * Forgets the choice so that `initBackend` decides again (for tests of the choice rules). Leaves
 * tfjs's active backend and registered kernels as they are.
 */
export function resetBackendForTesting(): void {
  current = null;
}

/**
 * Low level: makes `name` the active tfjs backend if it can (loading its package, registering the
 * wasm fallback kernels), without recording a choice. For benchmarks and tests that compare
 * backends in one process; applications use `initBackend`.
 */
export async function activateBackend(name: BackendName): Promise<{ ok: true; detail: string } | { ok: false; why: string }> {
  return attempts[name]();
}

// ---------------------------------------------------------------------------------------------

interface Request {
  raw: string;
  /** e.g. "option backend='wasm'" or "PRORL_BACKEND=wasm". */
  source: string;
}

function explicitRequest(opts: InitBackendOptions): Request | null {
  if (opts.backend !== undefined && opts.backend.trim() !== '') {
    return { raw: opts.backend, source: `option backend='${opts.backend}'` };
  }
  const env = process.env[BACKEND_ENV_VAR];
  if (env !== undefined && env.trim() !== '') return { raw: env, source: `${BACKEND_ENV_VAR}=${env}` };
  return null;
}

type Attempt = { ok: true; detail: string } | { ok: false; why: string };

const attempts: Record<BackendName, () => Promise<Attempt>> = {
  tensorflow: tryTensorflow,
  wasm: tryWasm,
  cpu: tryCpu,
};

async function choose(wanted: BackendName | null, request: Request | null): Promise<BackendInfo> {
  const tfjsVersion = tf.version.tfjs;
  // PRORL_BLAS=native or exact is a setting of the wasm backend: it asks for wasm, and contradicts any other.
  const blas = blasChoice();
  if (blas === 'native' || blas === 'exact') {
    if (wanted !== null && wanted !== 'wasm')
      throw new UsageError(`${BLAS_ENV_VAR}=${blas} runs the wasm backend's products, but ${request!.source} asks for '${wanted}'; unset one of them`);
    if (wanted === null) [wanted, request] = ['wasm', { raw: 'wasm', source: `${BLAS_ENV_VAR}=${blas}` }];
  }
  if (wanted !== null && request !== null) {
    const a = await attempts[wanted]();
    if (!a.ok) {
      throw new UsageError(
        `backend '${wanted}' requested by ${request.source} is not available: ${a.why}. ` +
          `Choose another of ${BACKEND_NAMES.join(', ')}, or leave ${BACKEND_ENV_VAR} unset for the automatic choice.`,
      );
    }
    return { name: wanted, requested: request.raw, reason: `requested by ${request.source}; ${a.detail}`, tfjsVersion };
  }
  const skipped: string[] = [];
  for (const name of BACKEND_NAMES) {
    const a = await attempts[name]();
    if (a.ok) {
      const why = skipped.length > 0 ? `automatic: ${skipped.join('; ')}; ` : 'automatic; ';
      return { name, requested: null, reason: why + a.detail, tfjsVersion };
    }
    skipped.push(`${name} unavailable (${a.why})`);
  }
  throw new Error(`no tfjs backend could be initialised: ${skipped.join('; ')}`);
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].trim();
}

async function tryTensorflow(): Promise<Attempt> {
  // A variable specifier: the package is optional and usually absent, so it must not be resolved
  // at type-check time.
  const spec = '@tensorflow/tfjs-node';
  try {
    await import(spec);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      return {
        ok: false,
        why: '@tensorflow/tfjs-node is not installed (optional dependency; its install script must download libtensorflow)',
      };
    }
    return { ok: false, why: `@tensorflow/tfjs-node failed to load: ${firstLine(err)}` };
  }
  if (!hasFactory('tensorflow')) {
    return {
      ok: false,
      why: '@tensorflow/tfjs-node loaded but registered its backend with another copy of tfjs-core (version mismatch with @tensorflow/tfjs?)',
    };
  }
  if (!(await tf.setBackend('tensorflow'))) {
    return { ok: false, why: "tf.setBackend('tensorflow') failed (see the warning above)" };
  }
  return { ok: true, detail: `tfjs-node (native libtensorflow), tfjs ${tf.version.tfjs}` };
}

async function tryWasm(): Promise<Attempt> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as Record<string, unknown>;
  } catch (err) {
    return { ok: false, why: `@tensorflow/tfjs-backend-wasm failed to load: ${firstLine(err)}` };
  }
  if (!hasFactory('wasm')) {
    return { ok: false, why: '@tensorflow/tfjs-backend-wasm registered its backend with another copy of tfjs-core' };
  }
  // The native kernels addon: asked for explicitly (exact, native), a missing addon is an error
  // (thrown, not a reason to try the next backend); by default (auto) it is used when it loads.
  const choice = blasChoice();
  let native: NativeBlas | null = null;
  let notUsed = '';
  if (choice === 'native' || choice === 'exact') native = loadNativeBlas(choice);
  else if (choice === 'auto') {
    const r = loadNativeBlasIfBuilt();
    if (r.blas) native = r.blas;
    else notUsed = r.why;
  }
  const products = choice === 'native' ? 'native' : 'exact';
  const fallbacks = registerWasmFallbackKernels();
  const ok = await withoutEmscriptenProcessHandlers(() => tf.setBackend('wasm'));
  if (!ok) return { ok: false, why: "tf.setBackend('wasm') failed (see the warning above)" };
  // After the backend's initialisation, which sets up the kernels it replaces (so that they can be
  // put back: unregisterNativeBlasKernels).
  if (native) registerNativeBlasKernels(native, products);
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const getThreads = (mod.getThreadsCount ?? (mod.default as Record<string, unknown> | undefined)?.getThreadsCount) as (() => number) | undefined;
  const threads = typeof getThreads === 'function' ? getThreads() : 1;
  const passes = native
    ? `and on the same addon: Sum over leading axes, the fused loss's row passes, ` +
      (native.expMatchesV8 ? "the synthetic simulator's row step" : "not the synthetic simulator's row step (the addon's exp differs from this V8's Math.exp)")
    : '';
  return {
    ok: true,
    detail:
      `XNNPACK${simd ? ' with SIMD' : ' without SIMD'}, ${threads} thread${threads === 1 ? '' : 's'}` +
      `, JS fallback kernels: ${(native ? fallbacks.filter((k) => k !== 'BatchMatMul') : fallbacks).join(', ')}` +
      (native && products === 'native' ? `; BatchMatMul on native BLAS (${BLAS_ENV_VAR}=native: ${native.config()}, 1 thread), ${passes}` : '') +
      (native && products === 'exact' ? `; BatchMatMul on the native kernels addon with the wasm kernels' bits (${BLAS_ENV_VAR}=${choice}), ${passes}` : '') +
      (choice === 'auto' && !native
        ? `; native kernels not used: ${notUsed} (the wasm kernels give the same results, more slowly; build them with \`npx prorec-gym build-native\`)`
        : '') +
      (choice === 'wasm' ? `; native kernels not used: ${BLAS_ENV_VAR}=wasm` : ''),
  };
}

async function tryCpu(): Promise<Attempt> {
  if (!(await tf.setBackend('cpu'))) return { ok: false, why: "tf.setBackend('cpu') failed" };
  return { ok: true, detail: 'pure-JS kernels (slow: about 1 GFLOP/s)' };
}

/**
 * The Emscripten glue of the wasm backend installs process-wide 'uncaughtException' and
 * 'unhandledRejection' handlers that rethrow; Node then reports any later error of the whole
 * program with the glue's 30 kB minified source line as context. Node's defaults already make both
 * fatal, so the handlers added while `f` runs are removed.
 */
async function withoutEmscriptenProcessHandlers<T>(f: () => Promise<T>): Promise<T> {
  type Listener = (...args: unknown[]) => void;
  const events = ['uncaughtException', 'unhandledRejection'];
  const listeners = (e: string) => process.listeners(e as 'uncaughtException') as unknown as Listener[];
  const before = events.map((e) => new Set(listeners(e)));
  try {
    return await f();
  } finally {
    events.forEach((e, i) => {
      for (const l of listeners(e)) if (!before[i].has(l)) process.removeListener(e, l);
    });
  }
}

function hasFactory(name: string): boolean {
  try {
    return tf.findBackendFactory(name) != null;
  } catch {
    return false;
  }
}
