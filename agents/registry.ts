/**
 * Agents by name, and plug-in agents by path: `--agent ./my-agent.ts` imports the module and uses
 * its default export (an AgentFactory).
 */
import { ConfigError, ProrecError } from '../core/errors.ts';
import { agentNameProblem } from './agent.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AgentFactory } from './agent.ts';
import { greedyCtrAgent, popularityAgent, randomAgent } from './heuristics.ts';
import { ipgAgent } from './ipg.ts';
import { irnAgent } from './irn.ts';
import { beamPlannerAgent, greedyIoiAgent } from './planners.ts';
import { rlAgents } from './rl.ts';
import { supervisedAgent } from './supervised.ts';
import { isProcessAgentSpec, processAgentFactory } from './process/agent.ts';

const factories = new Map<string, AgentFactory<any>>();

export function registerAgent(factory: AgentFactory<any>): void {
  const problem = agentNameProblem(factory.name);
  if (factories.has(factory.name) || problem) throw new ConfigError(`agent '${factory.name}': ${problem ?? 'already registered'}`);
  factories.set(factory.name, factory);
}

export function listAgents(): { name: string; description: string }[] {
  return [...factories.values()].map((f) => ({ name: f.name, description: f.description }));
}

export class UnknownAgentError extends ProrecError {
  readonly kind = 'usage';
  constructor(
    readonly requested: string,
    readonly known: readonly string[],
  ) {
    super(`unknown agent '${requested}'; known agents: ${known.join(', ')} (or a path to a module, e.g. ./my-agent.ts)`);
  }
}

/** An agent module that cannot be used: it does not load, or its default export is not an AgentFactory. */
export class AgentModuleError extends ProrecError {
  readonly kind = 'input';
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`agent module ${file}: ${reason}`);
  }
}

/**
 * An agent spec that names a module file (a relative or absolute path, or a .ts/.js/.py name) rather
 * than a registered agent. `exec:CMD ARGS` is a command line, not a path.
 */
export function looksLikePath(spec: string): boolean {
  if (spec.startsWith('exec:')) return false;
  return spec.startsWith('.') || spec.startsWith('/') || /\.(ts|js|mjs|mts|py)$/.test(spec);
}

function isFactory(x: unknown): x is AgentFactory<any> {
  const f = x as AgentFactory<any>;
  return !!f && typeof f.name === 'string' && typeof f.create === 'function';
}

/** A registered agent's factory, or the default export of the module at a path. */
export async function resolveAgent(spec: string, cwd = process.cwd()): Promise<AgentFactory<any>> {
  // Agents in another process (a Python file, or any command): agents/process/.
  if (isProcessAgentSpec(spec)) {
    if (!spec.startsWith('exec:') && !existsSync(path.resolve(cwd, spec))) throw new AgentModuleError(path.resolve(cwd, spec), 'no such file');
    return processAgentFactory(spec, cwd);
  }
  if (!looksLikePath(spec)) {
    const f = factories.get(spec);
    if (!f) throw new UnknownAgentError(spec, [...factories.keys()]);
    return f;
  }
  const file = path.resolve(cwd, spec);
  if (!existsSync(file)) throw new AgentModuleError(file, 'no such file');
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    // One line: the error's first line (a syntax error's message names the place).
    throw new AgentModuleError(file, `could not be loaded: ${(e as Error).name}: ${String((e as Error).message).split('\n')[0]}`);
  }
  // A TypeScript module of a CommonJS project (package.json without "type": "module") is compiled to
  // CommonJS by the loader: its default export then sits at `default.default`.
  const f = isFactory(mod.default) ? mod.default : (mod.default as Record<string, unknown> | undefined)?.default;
  if (!isFactory(f)) throw new AgentModuleError(file, 'the default export is not an agent factory ({ name, description, create })');
  const problem = agentNameProblem(f.name);
  if (problem) throw new AgentModuleError(file, `its agent: ${problem}`);
  return f;
}

for (const f of [randomAgent, popularityAgent, greedyCtrAgent, supervisedAgent, ...rlAgents, irnAgent, ipgAgent, greedyIoiAgent, beamPlannerAgent])
  registerAgent(f);
