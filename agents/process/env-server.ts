/**
 * The environment half of the agent process protocol (docs/agent-protocol.md): the `env.*`
 * messages through which a process steps vector environments, during an agent's `train` (on the
 * train split only) and under `prorec-gym serve`. Observations travel as arrays (ragged rows as
 * values and offsets); everything an env call refuses (an invalid action, a closed split, a step
 * before reset) goes back to the process as an `error` message, for it to raise.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ProrecError } from '../../core/errors.ts';
import { validate, ValidationError } from '../../core/validate.ts';
import type { EnvConfig, ProactiveObservation, ProactiveRecVectorEnv } from '../../envs/proactive.ts';
import type { Dataset, Split } from '../../data/dataset.ts';
import { arrayOf, ProtocolError, ragged, vec, type Message, type WireArray } from './protocol.ts';

/** The arrays of a batch of observations (the names the Python client reads). */
export function observationArrays(observations: readonly ProactiveObservation[], numItems: number): Record<string, WireArray> {
  const B = observations.length;
  const history = ragged(observations.map((o) => o.history));
  const proposed = ragged(observations.map((o) => o.proposed));
  const accepted = ragged(
    observations.map((o) => o.accepted),
    Uint8Array,
  );
  const path = ragged(observations.map((o) => o.path));
  const mask = new Uint8Array(B * (numItems + 1));
  observations.forEach((o, b) => mask.set(o.actionMask, b * (numItems + 1)));
  return {
    history: vec(history.values),
    history_offsets: vec(history.offsets),
    target: vec(Int32Array.from(observations, (o) => o.target)),
    step: vec(Int32Array.from(observations, (o) => o.step)),
    proposed: vec(proposed.values),
    proposed_offsets: vec(proposed.offsets),
    accepted: vec(accepted.values),
    path: vec(path.values),
    path_offsets: vec(path.offsets),
    action_mask: { data: mask, shape: [B, numItems + 1] },
  };
}

/** What an environment description reads (an AgentEnvView has it). */
export interface DescribableEnv {
  readonly actionSpace: { readonly n: number; readonly stop: number };
  readonly config: Readonly<EnvConfig>;
  readonly world: { readonly dataset: Dataset };
}

/** What a process is told about an environment: in `create` (the agent's) and in `env.describe` (a served one's). */
export function environmentDescription(env: DescribableEnv, id: string | null): { fields: Record<string, unknown>; arrays: Record<string, WireArray> } {
  const data = env.world.dataset;
  const attributes = ragged(data.items.attributes);
  const train = ragged(data.sequences.train);
  return {
    fields: {
      env_id: id,
      num_items: env.actionSpace.n - 1,
      stop: env.actionSpace.stop,
      max_length: env.config.maxLength,
      env_config: env.config,
      dataset: data.name,
      titles: data.items.titles,
      attribute_names: data.items.attributeNames,
      cases: { train: data.cases.train.length, valid: data.cases.valid.length, test: data.cases.test.length },
    },
    arrays: {
      item_attributes: vec(attributes.values),
      item_attributes_offsets: vec(attributes.offsets),
      popularity: vec(Float64Array.from(data.popularity)),
      train_sequences: vec(train.values),
      train_sequences_offsets: vec(train.offsets),
    },
  };
}

const EnvRef = Type.Integer({ minimum: 0, description: 'the id env.make returned' });
export const EnvRequestSchemas = {
  'env.describe': Type.Object({ type: Type.Literal('env.describe') }, { additionalProperties: true }),
  'env.make': Type.Object({ type: Type.Literal('env.make'), num_envs: Type.Integer({ minimum: 1, maximum: 65536 }) }, { additionalProperties: true }),
  'env.reset': Type.Object(
    {
      type: Type.Literal('env.reset'),
      env: EnvRef,
      seed: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 2 ** 53 - 1 }), Type.Null()])),
      split: Type.Optional(Type.Union([Type.Literal('train'), Type.Literal('valid'), Type.Literal('test'), Type.Null()])),
    },
    { additionalProperties: true },
  ),
  'env.step': Type.Object({ type: Type.Literal('env.step'), env: EnvRef }, { additionalProperties: true }),
  'env.close': Type.Object({ type: Type.Literal('env.close'), env: EnvRef }, { additionalProperties: true }),
} as const;
export type EnvRequestType = keyof typeof EnvRequestSchemas;

export function isEnvRequest(type: string): type is EnvRequestType {
  return Object.hasOwn(EnvRequestSchemas, type);
}

/** The checked header of a message, a ProtocolError naming the message and the field otherwise. */
export function checkHeader<T extends keyof typeof EnvRequestSchemas>(type: T, m: Message, source: string): Static<(typeof EnvRequestSchemas)[T]> {
  try {
    return validate(EnvRequestSchemas[type], m.header, `${source}: message '${type}'`) as Static<(typeof EnvRequestSchemas)[T]>;
  } catch (e) {
    if (e instanceof ValidationError) throw new ProtocolError(e.message);
    throw e;
  }
}

/** A reply of the environment server: a header and its arrays. */
export interface Reply {
  header: Record<string, unknown> & { type: string };
  arrays?: Record<string, WireArray>;
}

/**
 * Serves `env.*` requests with environments from `makeEnv` (each already restricted to the splits
 * the process may use). A request the environment refuses becomes an `error` reply; a request that
 * breaks the protocol (an unknown env id, a missing array) throws a ProtocolError.
 */
export class EnvServer {
  private readonly envs = new Map<number, ProactiveRecVectorEnv>();
  private next = 0;

  constructor(
    private readonly makeEnv: (numEnvs: number) => Promise<ProactiveRecVectorEnv>,
    private readonly source: string,
    /** The environment `env.describe` describes (made on first use when absent). */
    private describe: ProactiveRecVectorEnv | null = null,
  ) {}

  async handle(m: Message): Promise<Reply> {
    const type = m.header.type;
    try {
      switch (type) {
        case 'env.describe': {
          checkHeader('env.describe', m, this.source);
          this.describe ??= await this.makeEnv(1);
          const d = environmentDescription(this.describe, this.describe.id);
          return { header: { type: 'env.description', protocol: 1, ...d.fields }, arrays: d.arrays };
        }
        case 'env.make': {
          const h = checkHeader('env.make', m, this.source);
          const env = await this.makeEnv(h.num_envs);
          const id = this.next++;
          this.envs.set(id, env);
          return {
            header: {
              type: 'env.made',
              env: id,
              num_envs: env.numEnvs,
              num_items: env.actionSpace.n - 1,
              stop: env.actionSpace.stop,
              max_length: env.config.maxLength,
              // H: the longest history of any case, the width observations' histories are padded to.
              history_length: Math.max(0, ...(['train', 'valid', 'test'] as const).flatMap((s) => env.world.dataset.cases[s].map((c) => c.history.length))),
            },
          };
        }
        case 'env.reset': {
          const h = checkHeader('env.reset', m, this.source);
          const env = this.env(h.env, type);
          const caseIndices = m.arrays.has('case_indices') ? Array.from(arrayOf(m, 'case_indices', 'int32', env.numEnvs, this.source)) : undefined;
          const split = (h.split ?? undefined) as Split | undefined;
          const { observations, infos } = env.reset({
            ...(h.seed !== undefined && h.seed !== null ? { seed: h.seed } : {}),
            options: { ...(split ? { split } : {}), ...(caseIndices ? { caseIndices } : {}) },
          });
          return {
            header: { type: 'env.obs', split: infos[0]?.split ?? split ?? env.config.split },
            arrays: {
              ...observationArrays(observations, env.actionSpace.n - 1),
              case_index: vec(Int32Array.from(infos, (i) => i.caseIndex)),
              replica: vec(Int32Array.from(infos, (i) => i.key.replica)),
            },
          };
        }
        case 'env.step': {
          const h = checkHeader('env.step', m, this.source);
          const env = this.env(h.env, type);
          const actions = arrayOf(m, 'actions', 'int32', env.numEnvs, this.source);
          const r = env.step(actions);
          const flag = (f: (b: number) => boolean) => vec(Uint8Array.from(r.infos, (_, b) => (f(b) ? 1 : 0)));
          const num = (f: (b: number) => number) => vec(Float64Array.from(r.infos, (_, b) => f(b)));
          return {
            header: { type: 'env.stepped', episodes: r.infos.map((i) => i.episode) },
            arrays: {
              ...observationArrays(r.observations, env.actionSpace.n - 1),
              rewards: vec(r.rewards),
              terminated: vec(r.terminated),
              truncated: vec(r.truncated),
              'info.active': flag((b) => r.infos[b].active),
              'info.accepted': flag((b) => r.infos[b].accepted),
              'info.stop': flag((b) => r.infos[b].stop),
              'info.invalid': flag((b) => r.infos[b].invalid),
              'info.left': flag((b) => r.infos[b].left),
              'info.action': vec(Int32Array.from(r.infos, (i) => i.action)),
              'info.case_index': vec(Int32Array.from(r.infos, (i) => i.caseIndex)),
              'info.ioi': num((b) => r.infos[b].ioi),
              'info.ior': num((b) => r.infos[b].ior),
              'info.ctr': num((b) => r.infos[b].ctr),
              'info.rank_after': num((b) => r.infos[b].rankAfter),
            },
          };
        }
        case 'env.close': {
          const h = checkHeader('env.close', m, this.source);
          this.env(h.env, type).close();
          this.envs.delete(h.env);
          return { header: { type: 'env.closed', env: h.env } };
        }
        default:
          throw new ProtocolError(`${this.source}: message '${type}' is not an env request (env.describe, env.make, env.reset, env.step, env.close)`);
      }
    } catch (e) {
      // What the environment refuses goes back to the process, which raises it; a protocol
      // violation ends the conversation.
      if (e instanceof ProrecError && !(e instanceof ProtocolError)) return { header: { type: 'error', error: e.constructor.name, message: e.message } };
      throw e;
    }
  }

  private env(id: number, type: string): ProactiveRecVectorEnv {
    const env = this.envs.get(id);
    if (!env)
      throw new ProtocolError(
        `${this.source}: message '${type}', field 'env': ${id} is not an open environment (open: ${[...this.envs.keys()].join(', ') || 'none'})`,
      );
    return env;
  }

  /** Closes every environment still open. */
  closeAll(): void {
    for (const env of this.envs.values()) env.close();
    this.envs.clear();
    this.describe?.close();
    this.describe = null;
  }
}
