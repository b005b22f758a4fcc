// The package's install script: builds the native kernels addon (compute/native/build.ts) when a C
// compiler is there, so that the wasm backend's matrix products run natively with the same bits by
// default. It never fails the install: without a compiler (or with PRORL_SKIP_NATIVE_BUILD=1) it
// says so in one line and the wasm kernels run, giving the same results more slowly (the backend
// line of every run says which). `npx prorec-gym build-native` builds it later.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const done = (line) => {
  process.stdout.write(`prorec-gym: ${line}\n`);
  process.exit(0);
};
const later = 'the wasm kernels give the same results, more slowly; build them later with `npx prorec-gym build-native`';

if (process.env.PRORL_SKIP_NATIVE_BUILD === '1') done(`native kernels not built (PRORL_SKIP_NATIVE_BUILD=1); ${later}`);
try {
  // A checkout builds with the TypeScript source (through tsx); the installed package, which ships
  // only dist/, with its compiled module.
  const source = new URL('../compute/native/build.ts', import.meta.url);
  const mod = existsSync(fileURLToPath(source))
    ? await (await import('tsx/esm/api')).tsImport(source.href, import.meta.url)
    : await import(new URL('../dist/compute/native/build.js', import.meta.url).href);
  const out = mod.buildNativeBlas(undefined, { quiet: true });
  done(`built the native kernels (${out.openblas ? 'with' : 'without'} OpenBLAS): ${out.path}`);
} catch (err) {
  done(`native kernels not built (${String(err?.message ?? err).split('\n')[0]}); ${later}`);
}
