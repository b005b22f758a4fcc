/**
 * Builds the native kernels addon (./blas.c) into ./build/prorec-blas.node
 * (compute/kernels/native-matmul.ts): at install time (scripts/install-native.mjs, which never
 * fails the install), by `prorec-gym build-native`, or by `npm run build:native` in a checkout.
 * Works in a checkout and in an installed package alike (the source ships beside this module).
 *
 * Needs a C compiler (`cc`, or $CC) and Node's headers (shipped with Node in <prefix>/include/node,
 * or Debian's /usr/include/node); with OpenBLAS's headers as well (Debian: `apt-get install
 * libopenblas-dev`) the addon also has OpenBLAS's products (PRORL_BLAS=native). Compiles with the
 * system compiler directly: the addon is one file with no dependencies beyond Node-API (and
 * OpenBLAS), so node-gyp (which downloads headers) is not needed. Writes to a temporary file and
 * renames it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { NATIVE_BLAS_PATH, NATIVE_BLAS_SOURCE, nativeSourceHash } from '../kernels/native-matmul.ts';
import { tempName } from '../../core/io.ts';

export { NATIVE_BLAS_SOURCE };

/** Node's headers: next to the running node, or Debian's. Null when neither has node_api.h. */
export function nodeHeaders(): string | null {
  const dirs = [path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'];
  return dirs.find((d) => existsSync(path.join(d, 'node_api.h'))) ?? null;
}

/** What a build produced: the addon's path, whether it has OpenBLAS's products, the compiler's flags. */
export interface NativeBuild {
  path: string;
  openblas: boolean;
  flags: string[];
}

/**
 * Compiles the addon to NATIVE_BLAS_PATH. Tries with OpenBLAS's products (-DPRORL_OPENBLAS,
 * -lopenblas), then without; the kernels with the wasm kernels' bits are in every build. It is
 * compiled for the compiler's default target (blas.c picks AVX-512 or AVX2 at load time where GCC
 * can), so an addon built on one machine runs on another of the same architecture; no contraction
 * into FMAs, so the same bits on every CPU. Throws an error that names the last command and what
 * to install when neither compiles.
 */
export function buildNativeBlas(cc: string = process.env.CC || 'cc', opts: { quiet?: boolean } = {}): NativeBuild {
  if (!existsSync(NATIVE_BLAS_SOURCE)) throw new Error(`the addon's source ${NATIVE_BLAS_SOURCE} is missing`);
  const headers = nodeHeaders();
  if (!headers) throw new Error(`Node's headers (node_api.h) were found neither next to ${process.execPath} nor in /usr/include/node`);
  mkdirSync(path.dirname(NATIVE_BLAS_PATH), { recursive: true });
  const tmp = tempName(NATIVE_BLAS_PATH); // unique per thread and call (core/io.ts)
  const base = ['-O3', '-ffp-contract=off', '-shared', '-fPIC', '-Wall', '-Werror', `-DPRORL_SOURCE_SHA256="${nativeSourceHash()}"`, `-I${headers}`];
  const attempts: { openblas: boolean; flags: string[] }[] = [];
  for (const openblas of [true, false]) attempts.push({ openblas, flags: [...base, ...(openblas ? ['-DPRORL_OPENBLAS'] : [])] });
  let last: { args: string[]; err: unknown } | null = null;
  for (const a of attempts) {
    const args = [...a.flags, NATIVE_BLAS_SOURCE, '-o', tmp, ...(a.openblas ? ['-lopenblas'] : [])];
    try {
      // The first attempt fails where OpenBLAS is missing: only the last one's messages are shown.
      execFileSync(cc, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      renameSync(tmp, NATIVE_BLAS_PATH);
      return { path: NATIVE_BLAS_PATH, openblas: a.openblas, flags: a.flags.filter((f) => !f.startsWith('-I') && !f.startsWith('-DPRORL_SOURCE')) };
    } catch (err) {
      rmSync(tmp, { force: true });
      last = { args, err };
    }
  }
  const { args, err } = last!;
  const e = err as { code?: string; status?: number; stderr?: Buffer };
  if (e.code === 'ENOENT') {
    const hint = process.env.CC ? `CC=${process.env.CC} was not found` : `${cc} was not found (Debian: apt-get install build-essential; or set CC)`;
    throw new Error(`no C compiler: ${hint}`, { cause: err });
  }
  const stderr = e.stderr?.toString().trim().split('\n').slice(0, 8).join('\n');
  if (!opts.quiet && stderr) process.stderr.write(`${stderr}\n`);
  throw new Error(`${cc} ${args.join(' ')} failed (${e.code ?? `exit ${e.status}`}); it needs a C compiler (Debian: apt-get install build-essential)`, {
    cause: err,
  });
}

/** `prorec-gym build-native`: builds the addon; exit code 0, or 1 with the reason on stderr. */
export function buildNativeMain(args: string[]): number {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(
      "usage: prorec-gym build-native\n\nCompiles the native kernels addon (needs a C compiler, cc or $CC: apt-get install build-essential). The wasm\nbackend then runs its matrix products on it with the same bits (the default, PRORL_BLAS=auto). With OpenBLAS's\nheaders too (apt-get install libopenblas-dev), PRORL_BLAS=native runs them on OpenBLAS (faster, other round-off).\nThe package's install does this where a compiler is (PRORL_SKIP_NATIVE_BUILD=1 skips it).\n",
    );
    return 0;
  }
  if (args.length > 0) {
    process.stderr.write(`build-native: unexpected arguments: ${args.join(' ')}\n`);
    return 2;
  }
  try {
    const out = buildNativeBlas();
    process.stdout.write(
      `build-native: wrote ${out.path}: the matrix products with the wasm kernels' bits (used by default)` +
        (out.openblas
          ? ", and OpenBLAS's (PRORL_BLAS=native)"
          : '; without OpenBLAS (for PRORL_BLAS=native: apt-get install libopenblas-dev, then build again)') +
        '\n',
    );
    return 0;
  } catch (err) {
    process.stderr.write(`build-native: ${(err as Error).message}\n`);
    return 1;
  }
}
