#!/usr/bin/env node
/**
 * Builds the optional native matrix-product addon (compute/native/blas.c) into
 * compute/native/build/prorec-blas.node, for PRORL_BLAS=native (compute/kernels/native-matmul.ts).
 *
 * Needs a C compiler (`cc`), Node's headers (shipped with Node in <prefix>/include/node) and
 * OpenBLAS with its headers (Debian: `apt-get install build-essential libopenblas-dev`). Compiles
 * with the system compiler directly: the addon is one file with no dependencies beyond Node-API
 * and OpenBLAS, so node-gyp (which would download headers) is not needed.
 *
 *   npm run build:native
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const source = path.join(root, 'compute', 'native', 'blas.c');
const outDir = path.join(root, 'compute', 'native', 'build');
const out = path.join(outDir, 'prorec-blas.node');

function fail(message) {
  console.error(`build:native: ${message}`);
  process.exit(1);
}

const headers = [path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((d) => existsSync(path.join(d, 'node_api.h')));
if (!headers) fail(`Node's headers (node_api.h) not found next to ${process.execPath} or in /usr/include/node`);
const cc = process.env.CC || 'cc';
mkdirSync(outDir, { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
const args = ['-O2', '-shared', '-fPIC', '-Wall', '-Werror', `-I${headers}`, source, '-o', tmp, '-lopenblas'];
try {
  execFileSync(cc, args, { stdio: ['ignore', 'inherit', 'inherit'] });
} catch (err) {
  rmSync(tmp, { force: true });
  fail(
    `${cc} ${args.join(' ')} failed (${err.code ?? `exit ${err.status}`}). It needs a C compiler and OpenBLAS with its headers ` +
      `(Debian: apt-get install build-essential libopenblas-dev).`,
  );
}
renameSync(tmp, out);
console.log(`build:native: wrote ${path.relative(root, out)}; use it with PRORL_BLAS=native`);
