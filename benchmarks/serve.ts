/**
 * `prorec-gym serve --env ID`: serves an environment over stdin/stdout with the `env.*` messages of
 * the agent process protocol (docs/agent-protocol.md), without the harness: what the Python
 * client's `ProrecVectorEnv("ID")` starts, so that Gymnasium-style code trains on the benchmark's
 * environments. Only the train and valid splits are open (evaluation is the harness's); stdout
 * carries frames only, everything else goes to stderr. It ends at `close` or at the end of stdin.
 */
import path from 'node:path';
import yargs from 'yargs';
import { UsageError, describeError, exitCodeOf } from '../core/errors.ts';
import { checkDepth } from '../core/validate.ts';
import '../envs/index.ts';
import { listEnvs, makeVec, resolveEnvConfigOf, resolveWorldOptions } from '../envs/registry.ts';
import { EnvServer } from '../agents/process/env-server.ts';
import { decodeFrame, encodeFrame, splitFrame, ProtocolError } from '../agents/process/protocol.ts';
import type { Io } from './cli.ts';

function jsonOption(name: string, text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--${name}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError(`--${name}: expected a JSON object, got ${text}`);
  checkDepth(v, `--${name}`);
  return v as Record<string, unknown>;
}

export function buildServeCli(args: string[]) {
  return yargs(args)
    .scriptName('prorec-gym serve')
    .usage('$0 --env ID [--env-config JSON] [--world JSON] [--data-dir DIR]   serve an environment over stdin/stdout (docs/agent-protocol.md)')
    .option('env', {
      type: 'string',
      demandOption: true,
      describe: `the environment (${listEnvs()
        .map((e) => e.id)
        .join(', ')})`,
    })
    .option('env-config', { type: 'string', describe: 'environment config overrides as a JSON object, e.g. {"maxLength":5}' })
    .option('world', { type: 'string', describe: 'world options as a JSON object, e.g. {"numItems":500}' })
    .option('data-dir', { type: 'string', describe: 'folder holding the dataset of a real environment' })
    .strict()
    .help()
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
}

/** Serves frames from `input` to `output` until `close` or the end of input; resolves to the exit code. */
export async function serveMain(
  args: string[],
  io: Io,
  streams: { input: NodeJS.ReadableStream; output: NodeJS.WritableStream } = { input: process.stdin, output: process.stdout },
): Promise<number> {
  let server: EnvServer | null = null;
  try {
    const argv = (await buildServeCli(args).parseAsync()) as { env: string; envConfig?: string; world?: string; dataDir?: string; help?: boolean };
    if (argv.help) return 0;
    const world = resolveWorldOptions(
      argv.env,
      { ...jsonOption('world', argv.world), ...(argv.dataDir ? { dataDir: path.resolve(argv.dataDir) } : {}) },
      '--world',
    );
    const config = resolveEnvConfigOf(argv.env, { ...jsonOption('env-config', argv.envConfig), split: 'train' }, '--env-config');
    const log = (line: string) => io.err(`${line}\n`);
    const source = `the client of prorec-gym serve --env ${argv.env}`;
    const s = new EnvServer(
      async (n) => (await makeVec(argv.env, n, { ...config, world, log })).restrictSplits(['train', 'valid'], 'prorec-gym serve'),
      source,
    );
    server = s;
    const write = (header: Record<string, unknown> & { type: string }, arrays?: Parameters<typeof encodeFrame>[1]) =>
      new Promise<void>((resolve, reject) => streams.output.write(encodeFrame(header, arrays), (e) => (e ? reject(e) : resolve())));
    let pending: Buffer = Buffer.alloc(0);
    for await (const chunk of streams.input as AsyncIterable<Buffer>) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      for (;;) {
        const f = splitFrame(pending, source);
        if (!f) break;
        pending = pending.subarray(f.length);
        const m = decodeFrame(f.header, f.payload, source);
        if (m.header.type === 'close') {
          await write({ type: 'closed' });
          return 0;
        }
        const reply = await s.handle(m);
        await write(reply.header, reply.arrays);
      }
    }
    if (pending.length) throw new ProtocolError(`${source}: the input ended in the middle of a frame`);
    return 0;
  } catch (e) {
    io.err(describeError('prorec-gym serve', e));
    return exitCodeOf(e);
  } finally {
    server?.closeAll();
  }
}
