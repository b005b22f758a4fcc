#!/usr/bin/env node
/**
 * The `prorec-gym` command: one entry point for the benchmark, reports, datasets, simulators and
 * new agents.
 *
 *   prorec-gym bench --agent ./my-agent.ts [options]   benchmark an agent (see `prorec-gym bench --help`)
 *   prorec-gym bench merge|leaderboard|specificity ...
 *   prorec-gym report DIR                              write DIR/report.html from DIR/results
 *   prorec-gym data list|stats|fetch ...               the real datasets
 *   prorec-gym sim train|eval|info ...                 the learned user simulators
 *   prorec-gym new-agent NAME                          write NAME.ts (a typed agent) and NAME.test.ts
 *   prorec-gym serve --env ID                          serve an environment over stdin/stdout (docs/agent-protocol.md)
 *   prorec-gym new-agent --estimator NAME              write NAME.ts (an advantage estimator) and its exactness test
 *
 * Plug-in agents written in TypeScript load without a build step: the built command registers the
 * tsx loader before anything imports them. Exit codes: those of the subcommand (0 success, 1
 * failure, 2 bad input).
 */
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMain } from '../core/main.ts';

const COMMANDS: Record<string, string> = {
  bench: 'run a benchmark suite for an agent (--agent NAME|PATH), or merge / leaderboard / specificity',
  report: 'write DIR/report.html (self-contained HTML) from the result files in DIR/results',
  data: 'the real datasets: list, stats NAME, fetch NAME',
  sim: 'the learned user simulators: train, eval, info',
  'new-agent': 'write NAME.ts (a typed agent module, or with --estimator an advantage estimator) and NAME.test.ts, and print the bench command',
  serve: 'serve an environment over stdin/stdout to another process, e.g. the Python client (docs/agent-protocol.md)',
  'build-native': 'compile the native kernels addon (needs a C compiler; the install does it where one is): the same results, faster',
};

function version(): string {
  // dist/bin/prorec-gym.js or bin/prorec-gym.ts: the package.json is one or two folders up.
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const dir of [path.join(here, '..'), path.join(here, '..', '..')]) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'prorec-gym') return pkg.version ?? 'unknown';
    } catch {
      // try the next folder up
    }
  }
  return 'unknown';
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: prorec-gym <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([c, d]) => `  ${c.padEnd(width)}  ${d}`),
    '',
    'Run `prorec-gym <command> --help` for the options of a command.',
    '',
  ].join('\n');
}

/** Runs one command line (without node and script); resolves to the exit code. */
export async function cliMain(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case 'bench':
      return (await import('../benchmarks/cli.ts')).main(rest);
    case 'report':
      return (await import('../reports/cli.ts')).reportMain(rest);
    case 'data':
      return (await import('../data/cli.ts')).runCli(rest);
    case 'sim':
      return (await import('../simulators/cli.ts')).simMain(rest);
    case 'new-agent':
      return (await import('./new-agent.ts')).newAgentMain(rest);
    case 'build-native':
      return (await import('../compute/native/build.ts')).buildNativeMain(rest);
    case 'serve': {
      const { STDIO } = await import('../benchmarks/cli.ts');
      return (await import('../benchmarks/serve.ts')).serveMain(rest, STDIO);
    }
    case '--version':
    case '-v':
      process.stdout.write(`${version()}\n`);
      return 0;
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(usage());
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`prorec-gym: unknown command '${command}'\n\n${usage()}`);
      return 2;
  }
}

// node_modules/.bin/prorec-gym is a link to this file: compare real paths.
const invokedDirectly = process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (invokedDirectly) {
  // The built command is JavaScript: register the TypeScript loader so that `--agent ./x.ts` (and
  // the modules it imports) load as they are, in ES-module and CommonJS projects alike. From
  // source, tsx is already in charge.
  // Both hooks, as `node --import tsx` does: a CommonJS project's .ts files load through require.
  if (import.meta.url.endsWith('.js')) {
    (await import('tsx/cjs/api')).register();
    (await import('tsx/esm/api')).register();
  }
  // Simulator shards and compute backends can hold the event loop open: exit with the code. A
  // command whose work can never finish exits 1, not 0 (runMain).
  runMain('prorec-gym', () => cliMain(process.argv.slice(2)));
}
