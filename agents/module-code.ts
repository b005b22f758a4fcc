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
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
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

/**
 * The hash and files of the code of a plug-in agent module (see the file's comment); of a Python
 * agent, its folder's `.py` files (pythonFiles); of any other file (an `exec:` agent's script), the file.
 */
export async function moduleCode(file: string): Promise<ModuleCode> {
  const entry = realpathSync(file);
  const dir = path.dirname(entry);
  const rel = (f: string) => path.relative(dir, f).split(path.sep).join('/');
  const files = entry.endsWith('.py') ? pythonFiles(dir) : /\.[cm]?[jt]s$/.test(entry) ? await localModuleGraph(entry) : [entry];
  const graph = files.map((f) => ({ abs: f, rel: rel(f) })).sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const hash = createHash('sha256');
  for (const f of graph) {
    const content = readFileSync(f.abs);
    hash.update(`${f.rel}\n${content.length}\n`).update(content);
  }
  return { hash: hash.digest('hex'), files: graph.map((f) => f.rel) };
}

/** The most files pythonFiles hashes (a guard against an agent file in a home folder). */
export const MAX_PYTHON_FILES = 2000;

/**
 * The code of a Python agent (agents/process/): every `.py` file of its folder and the folders
 * below, whose imports cannot be followed from here. Hidden entries, `__pycache__`,
 * `node_modules` and virtual environments (a folder with `pyvenv.cfg`) are left out, as are other
 * files (a checkpoint the agent writes must not change its identity). Real paths, sorted.
 */
export function pythonFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.name.startsWith('.') || e.name === '__pycache__' || e.name === 'node_modules') continue;
      const full = path.join(d, e.name);
      if (e.isDirectory()) {
        if (!existsSync(path.join(full, 'pyvenv.cfg'))) walk(full);
      } else if (e.isFile() && e.name.endsWith('.py')) {
        out.push(realpathSync(full));
        if (out.length > MAX_PYTHON_FILES)
          throw new AgentCodeError(`agent ${dir}: more than ${MAX_PYTHON_FILES} .py files in its folder and below; put the agent in a folder of its own`);
      }
    }
  };
  walk(dir);
  return out;
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
