/**
 * The config fields of an agent, from its config schema (AgentFactory.configSchema):
 *   npm run bench -- --agent prorl --config-help
 *   npm run bench -- --agent ./my-agent.ts --config-help
 * prints every field as a dotted path (`rl.lr`) with its type, default and description, and exits.
 * Set fields with `--agent-config '{"rl":{"lr":0.0005}}'` (or a suite entry's `config`); omitted
 * fields take the defaults shown. `describeSchema` is the pure walk over a schema's fields.
 */
import type { TSchema } from '@sinclair/typebox';
import type { AgentFactory } from '../agents/agent.ts';

/** One field of a config schema. */
export interface ConfigField {
  /** Dotted path from the config's root, e.g. `rl.lr`. */
  path: string;
  /** A short type, e.g. `integer ≥ 1`, `'greedy' | 'sample'`, `object`. */
  type: string;
  /** The schema's default, or undefined when it has none. */
  default: unknown;
  /** The schema's description ('' when it has none). */
  description: string;
  /** The field may be left out and has no default (it is then unset). */
  optional: boolean;
  /** The field is an object whose fields are listed after it. */
  object: boolean;
}

type Json = Record<string, unknown>;

function bounds(s: Json): string {
  const parts: string[] = [];
  if (typeof s.minimum === 'number') parts.push(`≥ ${s.minimum}`);
  if (typeof s.exclusiveMinimum === 'number') parts.push(`> ${s.exclusiveMinimum}`);
  if (typeof s.maximum === 'number') parts.push(`≤ ${s.maximum}`);
  if (typeof s.exclusiveMaximum === 'number') parts.push(`< ${s.exclusiveMaximum}`);
  return parts.join(', ');
}

/** A short, readable type of one schema (not a full JSON Schema rendering). */
export function schemaType(schema: TSchema): string {
  const s = schema as Json;
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v).replace(/"/g, "'")).join(' | ');
  if ('const' in s) return JSON.stringify(s.const).replace(/"/g, "'");
  const members = (s.anyOf ?? s.oneOf) as TSchema[] | undefined;
  if (Array.isArray(members)) return members.map(schemaType).join(' | ');
  if (s.type === 'array') return `${s.items ? schemaType(s.items as TSchema) : 'unknown'}[]`;
  if (typeof s.type === 'string') {
    const b = s.type === 'number' || s.type === 'integer' ? bounds(s) : '';
    return b ? `${s.type} ${b}` : s.type;
  }
  return 'unknown';
}

function isObjectSchema(s: Json): boolean {
  return s.type === 'object' && typeof s.properties === 'object' && s.properties !== null;
}

/**
 * Every field of an object schema, depth first in declaration order: an object field, then its
 * own fields (`policy`, `policy.dim`, ...). A schema that is not an object has no fields.
 */
export function describeSchema(schema: TSchema, prefix = ''): ConfigField[] {
  const s = schema as Json;
  if (!isObjectSchema(s)) return [];
  const required = new Set((s.required as string[] | undefined) ?? []);
  const out: ConfigField[] = [];
  for (const [key, child] of Object.entries(s.properties as Record<string, TSchema>)) {
    const c = child as Json;
    const object = isObjectSchema(c);
    const path = prefix ? `${prefix}.${key}` : key;
    out.push({
      path,
      type: object ? 'object' : schemaType(child),
      default: c.default,
      description: typeof c.description === 'string' ? c.description : '',
      optional: !required.has(key) && c.default === undefined,
      object,
    });
    if (object) out.push(...describeSchema(child, path));
  }
  return out;
}

/** Words of `text` in lines of at most `width` columns after `indent` (a longer word gets its own line). */
function wrap(text: string, indent: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
}

/** One field as text: `path  type  default: value`, then its description wrapped below. */
function fieldText(f: ConfigField, width: number): string[] {
  const depth = f.path.split('.').length - 1;
  const indent = '  '.repeat(depth + 1);
  const value = f.optional ? 'optional, unset by default' : f.object ? '' : f.default !== undefined ? `default: ${JSON.stringify(f.default)}` : 'required';
  const head = `${indent}${f.path}  ${f.type}${value ? `  ${value}` : ''}`;
  const description = wrap(f.description || '(no description)', `${indent}    `, width);
  if (head.length <= width) return [head, ...description];
  // A long type (a wide enum) goes on lines of its own.
  return [`${indent}${f.path}${value ? `  ${value}` : ''}`, ...wrap(`type: ${f.type}`, `${indent}    `, width), ...description];
}

/**
 * The text `bench --agent NAME --config-help` prints: the agent's fields as a tree, or a line
 * saying it has no config schema (a plug-in agent may not declare one).
 */
export function configHelpText(factory: Pick<AgentFactory<unknown>, 'name' | 'description' | 'configSchema'>, width = 100): string {
  const head = [`agent ${factory.name}: ${factory.description}`];
  if (!factory.configSchema) return `${head[0]}\nno config schema: the agent takes its --agent-config as given, without defaults.\n`;
  const fields = describeSchema(factory.configSchema);
  if (fields.length === 0) return `${head[0]}\nits config schema has no fields.\n`;
  const lines = [...wrap(head[0], '', width), `config fields (set with --agent-config '{"a":{"b":1}}' for a.b; omitted fields take their default):`, ''];
  for (const f of fields) lines.push(...fieldText(f, width));
  return `${lines.join('\n')}\n`;
}
