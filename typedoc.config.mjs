// TypeDoc (`npm run docs`): the API reference of the package's public entry points, written to
// docs/api/ (not committed). The entry points are read from the `exports` map of package.json
// (each export's 'prorec-gym-source' condition), so the map stays the one list of them.
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const entryPoints = Object.values(pkg.exports).flatMap((e) => (typeof e === 'object' && e['prorec-gym-source'] ? [e['prorec-gym-source']] : []));

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  name: 'prorec-gym',
  entryPoints,
  out: 'docs/api',
  tsconfig: 'tsconfig.json',
  readme: 'none',
  // Source links need a hosted remote; a clone of a local checkout has none, and the warning would fail the build.
  disableSources: true,
  excludePrivate: true,
  excludeInternal: true,
  sort: ['kind', 'source-order'],
  // A public type that refers to one the entry points do not export is a hole in the reference: fail.
  treatWarningsAsErrors: true,
};
