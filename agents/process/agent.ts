/**
 * Agents in other processes, in any language: `--agent ./my_agent.py` runs the Python file with the
 * package's Python client (clients/python/prorec_gym), `--agent "exec:CMD ARGS"` runs any command
 * that speaks the agent process protocol (docs/agent-protocol.md) on its stdin and stdout. The
 * factory here is an ordinary AgentFactory: `create` starts the process and sends `create`, `act`
 * sends a batch of observations with their action masks and per-row seeds and reads the actions,
 * `train` lets the process drive training environments (env-server.ts), `dispose` closes it.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { repoRoot } from '../../data/paths.ts';
import { ConfigError, UsageError } from '../../core/errors.ts';
import { validate, ValidationError } from '../../core/validate.ts';
import type { Agent, AgentCreateContext, AgentFactory } from '../agent.ts';
import { AgentProcess } from './channel.ts';
import { EnvServer, environmentDescription, isEnvRequest, observationArrays, type DescribableEnv } from './env-server.ts';
import { arrayOf, PROTOCOL_VERSION, ProtocolError, vec, type Message } from './protocol.ts';

/** The folder holding the Python client's package (`prorec_gym`), put on the agent's PYTHONPATH. */
export const PYTHON_CLIENT_DIR = path.join(repoRoot, 'clients', 'python');

/** The Python interpreter: PRORL_PYTHON, else `python3`. */
export function pythonCommand(env: NodeJS.ProcessEnv = process.env): string {
  const v = env.PRORL_PYTHON;
  if (v === undefined || v === '') return 'python3';
  if (/\s/.test(v.trim()) && !existsSync(v)) throw new UsageError(`PRORL_PYTHON=${v}: expected the path or name of a Python interpreter (no arguments)`);
  return v;
}

/** How to start an agent process. */
export interface ProcessAgentSpec {
  /** The spec as given: a .py path or `exec:CMD ARGS`. */
  spec: string;
  command: string;
  args: string[];
  cwd: string;
  /** Its name in tables: the file's name without `.py`, or the command's first word's. */
  name: string;
  /** Environment variables added for the process. */
  env: Record<string, string>;
}

/** Whether `spec` names an agent process: a `.py` file, or `exec:`. */
export function isProcessAgentSpec(spec: string): boolean {
  return spec.startsWith('exec:') || /\.py$/.test(spec);
}

/**
 * Splits a command line into words: whitespace separates, single and double quotes group, a
 * backslash escapes the next character (outside single quotes). No variables, globs or pipes.
 */
export function splitCommand(line: string, where: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new UsageError(`${where}: unterminated ${quote} quote in ${JSON.stringify(line)}`);
  if (inWord) words.push(word);
  return words;
}

/** The process of a `.py` file (resolved against `cwd`) or an `exec:` command line. */
export function processAgentSpec(spec: string, cwd = process.cwd()): ProcessAgentSpec {
  const env = { PYTHONPATH: [PYTHON_CLIENT_DIR, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter), PYTHONUNBUFFERED: '1' };
  if (spec.startsWith('exec:')) {
    const words = splitCommand(spec.slice('exec:'.length), `--agent ${spec}`);
    if (words.length === 0) throw new UsageError(`--agent ${spec}: no command after exec:`);
    const base = path.basename(words.find((w, i) => i > 0 && /\.[A-Za-z0-9]+$/.test(w)) ?? words[0]).replace(/\.[^.]+$/, '');
    return { spec, command: words[0], args: words.slice(1), cwd, name: base || 'exec', env };
  }
  const file = path.resolve(cwd, spec);
  return {
    spec,
    command: pythonCommand(),
    args: ['-u', '-m', 'prorec_gym.agent_main', file],
    // The harness's folder, as for TypeScript plug-ins: relative paths in a config (a checkpoint) mean the same.
    cwd,
    name: path.basename(file).replace(/\.py$/, ''),
    env,
  };
}

const CreatedSchema = Type.Object(
  {
    type: Type.Literal('created'),
  },
  { additionalProperties: true },
);
const LogSchema = Type.Object(
  { type: Type.Literal('log'), step: Type.Number(), values: Type.Record(Type.String(), Type.Number()) },
  { additionalProperties: true },
);
const ProgressSchema = Type.Object(
  { type: Type.Literal('progress'), fraction: Type.Number({ minimum: 0, maximum: 1 }), message: Type.Optional(Type.String()) },
  { additionalProperties: true },
);

/** `m`'s header checked against `schema`; a ProtocolError naming the message and the field otherwise. */
function checked<T>(schema: Parameters<typeof validate>[0], m: Message, source: string): T {
  try {
    return validate(schema, m.header, `${source}: message '${m.header.type}'`) as T;
  } catch (e) {
    if (e instanceof ValidationError) throw new ProtocolError(e.message);
    throw e;
  }
}

/**
 * The factory of an agent process. Its config is free-form JSON handed to the process (the process
 * checks it); the run records it as given, and the run hash covers the agent's files (module-code.ts).
 */
export function processAgentFactory(spec: string, cwd = process.cwd()): AgentFactory<Record<string, unknown>> {
  const p = processAgentSpec(spec, cwd);
  if (!spec.startsWith('exec:') && !existsSync(path.resolve(cwd, spec))) throw new ConfigError(`agent ${path.resolve(cwd, spec)}: no such file`);
  return {
    name: p.name,
    description: `an agent process (${spec}) speaking the agent process protocol v${PROTOCOL_VERSION}`,
    async create(config, ctx) {
      return createProcessAgent(p, config, ctx);
    },
  };
}

const HelloSchema = Type.Object(
  {
    type: Type.Literal('hello'),
    protocol: Type.Integer(),
    name: Type.String({ minLength: 1, maxLength: 100 }),
    trains: Type.Boolean(),
  },
  { additionalProperties: true },
);

async function createProcessAgent(p: ProcessAgentSpec, config: Record<string, unknown>, ctx: AgentCreateContext): Promise<Agent> {
  const source = `agent process ${p.spec}`;
  const proc = await AgentProcess.start({ command: p.command, args: p.args, cwd: p.cwd, env: p.env, source });
  let hello: { name: string; trains: boolean };
  try {
    const m = proc.requestSync({ type: 'hello', protocol: PROTOCOL_VERSION }, {}, 'hello');
    hello = checked<{ name: string; trains: boolean }>(HelloSchema, m, source);
    if (m.header.protocol !== PROTOCOL_VERSION)
      throw new ProtocolError(`${source}: message 'hello', field 'protocol': it speaks version ${String(m.header.protocol)}, the harness ${PROTOCOL_VERSION}`);
  } catch (e) {
    proc.kill();
    throw e;
  }
  // The agent object is created in the process when the environment is first known (the first
  // act or train): its description then has everything (maxLength, the env's config, popularity).
  let created = false;
  const ensureCreated = (env: DescribableEnv | null, id: string | null) => {
    if (created) return;
    const d = env
      ? environmentDescription(env, id)
      : {
          fields: { num_items: ctx.numItems, stop: ctx.numItems, titles: ctx.items?.titles ?? [], attribute_names: ctx.items?.attributeNames ?? [] },
          arrays: {},
        };
    const m = proc.requestSync({ type: 'create', protocol: PROTOCOL_VERSION, agent: p.spec, config, seed: ctx.seed, env: d.fields }, d.arrays, 'created');
    checked(CreatedSchema, m, source);
    created = true;
  };
  const agent: Agent = {
    name: hello.name,
    act(observations, actx) {
      ensureCreated(actx.env, null);
      const B = observations.length;
      const N = actx.env.actionSpace.n - 1;
      const seeds = Uint32Array.from(observations, (_, b) => actx.rng(b).seed32() >>> 0);
      const m = proc.requestSync({ type: 'act', rows: B }, { ...observationArrays(observations, N), seeds: vec(seeds) }, 'actions');
      try {
        return arrayOf(m, 'actions', 'int32', B, source);
      } catch (e) {
        proc.kill();
        throw e;
      }
    },
    async save(file) {
      ensureCreated(null, null);
      proc.requestSync({ type: 'save', path: path.resolve(file) }, {}, 'saved');
    },
    async load(file) {
      ensureCreated(null, null);
      proc.requestSync({ type: 'load', path: path.resolve(file) }, {}, 'loaded');
    },
    dispose() {
      proc.close();
    },
  };
  if (hello.trains)
    agent.train = async (makeEnv, budget, { rng, callbacks }) => {
      const first = await makeEnv(1);
      try {
        ensureCreated(first, first.id);
      } catch (e) {
        proc.kill();
        throw e;
      } finally {
        first.close();
      }
      const server = new EnvServer(makeEnv, source);
      try {
        proc.send({ type: 'train', epochs: budget.epochs ?? null, seed: rng.seed32() >>> 0 });
        for (;;) {
          const m = await proc.receive('a message of train (env.*, log, progress or trained)');
          const t = m.header.type;
          if (t === 'trained') break;
          if (t === 'log') {
            const h = checked<{ step: number; values: Record<string, number> }>(LogSchema, m, source);
            callbacks?.onLog?.(h.step, h.values);
          } else if (t === 'progress') {
            const h = checked<{ fraction: number; message?: string }>(ProgressSchema, m, source);
            callbacks?.onProgress?.(h.fraction, h.message);
          } else if (isEnvRequest(t)) {
            const r = await server.handle(m);
            proc.send(r.header, r.arrays);
          } else {
            throw new ProtocolError(
              `${source}: sent '${t}' during train; expected env.describe, env.make, env.reset, env.step, env.close, log, progress or trained`,
            );
          }
        }
      } catch (e) {
        proc.kill();
        throw e;
      } finally {
        server.closeAll();
      }
    };
  return agent;
}
