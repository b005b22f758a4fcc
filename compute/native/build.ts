/**
 * Builds the optional native matrix-product addon (./blas.c) into ./build/prorec-blas.node, for
 * PRORL_BLAS=native (compute/kernels/native-matmul.ts): `prorec-gym build-native`, or
 * `npm run build:native` in a checkout. Works in a checkout and in an installed package alike (the
 * source ships beside this module).
 *
 * Needs a C compiler (`cc`, or $CC), Node's headers (shipped with Node in <prefix>/include/node)
 * and OpenBLAS with its headers (Debian: `apt-get install build-essential libopenblas-dev`).
 * Compiles with the system compiler directly: the addon is one file with no dependencies beyond
 * Node-API and OpenBLAS, so node-gyp (which downloads headers) is not needed. Writes to a
 * temporary file and renames it.
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

/**
 * Compiles the addon to NATIVE_BLAS_PATH and returns that path. Throws an error that names the
 * command and what to install when the compiler, the headers or OpenBLAS are missing.
 */
export function buildNativeBlas(cc: string = process.env.CC || 'cc'): string {
  if (!existsSync(NATIVE_BLAS_SOURCE)) throw new Error(`the addon's source ${NATIVE_BLAS_SOURCE} is missing`);
  const headers = nodeHeaders();
  if (!headers) throw new Error(`Node's headers (node_api.h) were found neither next to ${process.execPath} nor in /usr/include/node`);
  mkdirSync(path.dirname(NATIVE_BLAS_PATH), { recursive: true });
  const tmp = tempName(NATIVE_BLAS_PATH); // unique per thread and call (core/io.ts)
  const args = [
    '-O3',
    '-ffp-contract=off',
    '-shared',
    '-fPIC',
    '-Wall',
    '-Werror',
    `-DPRORL_SOURCE_SHA256="${nativeSourceHash()}"`,
    `-I${headers}`,
    NATIVE_BLAS_SOURCE,
    '-o',
    tmp,
    '-lopenblas',
  ];
  try {
    execFileSync(cc, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (err) {
    rmSync(tmp, { force: true });
    const why = (err as { code?: string; status?: number }).code ?? `exit ${(err as { status?: number }).status}`;
    throw new Error(
      `${cc} ${args.join(' ')} failed (${why}); it needs a C compiler and OpenBLAS with its headers ` +
        `(Debian: apt-get install build-essential libopenblas-dev)`,
      { cause: err },
    );
  }
  renameSync(tmp, NATIVE_BLAS_PATH);
  return NATIVE_BLAS_PATH;
}

/** `prorec-gym build-native`: builds the addon; exit code 0, or 1 with the reason on stderr. */
export function buildNativeMain(args: string[]): number {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(
      "usage: prorec-gym build-native\n\nCompiles the optional native BLAS addon (needs cc and OpenBLAS: apt-get install build-essential libopenblas-dev);\nthen PRORL_BLAS=native runs the wasm backend's matrix products on it.\n",
    );
    return 0;
  }
  if (args.length > 0) {
    process.stderr.write(`build-native: unexpected arguments: ${args.join(' ')}\n`);
    return 2;
  }
  try {
    const out = buildNativeBlas();
    process.stdout.write(`build-native: wrote ${out}; use it with PRORL_BLAS=native\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`build-native: ${(err as Error).message}\n`);
    return 1;
  }
}
