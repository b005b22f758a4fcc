/**
 * The identity of a plug-in agent's code: the module file and every local module it imports,
 * transitively (static `import … from` and `export … from`, `import('…')` with a literal,
 * `require('…')`), resolved the way the TypeScript loader (tsx, built on esbuild) resolves them:
 * `./x.js` finds `./x.ts`, extensionless specifiers and folder `index` files resolve, tsconfig
 * `paths` apply. Packages (bare specifiers, hence `node_modules`) and `node:` builtins are not
 * followed: their version is the installed package's, not the agent's code. Type-only imports are
 * not followed either: the loader erases them, so they cannot change what runs.
 *
 * The graph comes from esbuild's metafile (a bundle of the module with every package external,
 * nothing written): esbuild is the loader's own compiler, so no import form is missed or
 * misread (comments, strings, `export * from`).
 */
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { ProrecError } from '../core/errors.ts';

/** A plug-in module whose local imports cannot be resolved. */
export class AgentCodeError extends ProrecError {
  readonly kind = 'input';
}

export interface ModuleCode {
  /** SHA-256 (hex) of the files' paths (relative to the module's folder, `/`-separated) and contents, in path order. */
  hash: string;
  /** The files hashed, relative to the module's folder, `/`-separated, sorted; the module itself among them. */
  files: string[];
}

/** The module file and its local imports, transitively, as absolute real paths (symbolic links resolved, as the loader does). */
export async function localModuleGraph(file: string): Promise<string[]> {
  const entry = realpathSync(file);
  const dir = path.dirname(entry);
  let inputs: Record<string, unknown>;
  try {
    const r = await build({
      entryPoints: [entry],
      absWorkingDir: dir,
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      outdir: path.join(dir, '.prorec-gym-unwritten'),
      logLevel: 'silent',
    });
    inputs = r.metafile.inputs;
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors;
    const first = errors?.[0];
    const where = first?.location ? `${first.location.file}:${first.location.line}: ` : '';
    throw new AgentCodeError(`agent module ${entry}: its imports cannot be read: ${first ? `${where}${first.text}` : (e as Error).message}`, { cause: e });
  }
  return Object.keys(inputs)
    .filter((f) => !/^[a-z-]+:/.test(f)) // esbuild namespaces other than files (none with packages external; defensive)
    .map((f) => realpathSync(path.resolve(dir, f)))
    .filter((f, i, all) => all.indexOf(f) === i);
}

/** The hash and files of the code of a plug-in agent module (see the file's comment). */
export async function moduleCode(file: string): Promise<ModuleCode> {
  const entry = realpathSync(file);
  const dir = path.dirname(entry);
  const rel = (f: string) => path.relative(dir, f).split(path.sep).join('/');
  const graph = (await localModuleGraph(entry)).map((f) => ({ abs: f, rel: rel(f) })).sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const hash = createHash('sha256');
  for (const f of graph) {
    const content = readFileSync(f.abs);
    hash.update(`${f.rel}\n${content.length}\n`).update(content);
  }
  return { hash: hash.digest('hex'), files: graph.map((f) => f.rel) };
}

/**
 * One spelling per module file: its path relative to `base` (the folder it was given against),
 * `/`-separated and starting with `./` or `../`, symbolic links resolved. `mine.ts`, `./mine.ts`,
 * `./a/../mine.ts` and the absolute path of the same file are one spec.
 */
export function normalizeModuleSpec(spec: string, base: string): string {
  let file = path.resolve(base, spec);
  let from = base;
  try {
    file = realpathSync(file);
    from = realpathSync(base);
  } catch {
    // A file that does not exist: resolveAgent reports it.
  }
  const rel = path.relative(from, file);
  if (path.isAbsolute(rel)) return file.split(path.sep).join('/'); // another drive
  const posix = rel.split(path.sep).join('/');
  return posix.startsWith('../') ? posix : `./${posix}`;
}
