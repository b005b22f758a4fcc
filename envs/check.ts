/**
 * checkEnv: the contract every environment must meet, checked by running it.
 * - the same seed gives identical rollouts; different seeds give different ones;
 * - observations match their declared specs (dtype, length, bounds) and infos carry every key;
 * - invalid actions (out of range, the target, a repeat) are rejected, and a rejected action
 *   leaves the environment as it was.
 * Rollouts use a seeded uniform policy over the allowed actions.
 */
import { ProrecError } from '../core/errors.ts';
import type { ArraySpec, Env } from '../core/api.ts';
import { InvalidActionError } from './proactive.ts';
import { Rng } from '../core/rng.ts';

export class CheckEnvError extends ProrecError {
  readonly kind = 'failure';
  constructor(
    readonly envId: string,
    readonly problems: readonly string[],
  ) {
    super(`checkEnv(${envId}) failed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * What checkEnv needs of an environment: the core `Env` interface (core/api.ts) over observations
 * with an action mask and a target, infos that end an episode with a summary, and the two config
 * fields that decide which rejections to test. A ProactiveRecEnv is one.
 */
export type CheckableEnv = Env<CheckedObservation, { readonly episode?: unknown }, unknown, { readonly caseIndex?: unknown }> & {
  readonly config: { readonly invalidAction: string; readonly allowRepeats: boolean };
};

export interface CheckedObservation {
  /** 1 where the action is allowed; the last entry is STOP. */
  readonly actionMask: ArrayLike<number>;
  readonly target: number;
}

const DTYPE: Record<ArraySpec['dtype'], new (n: number) => ArrayLike<number>> = {
  int32: Int32Array,
  uint8: Uint8Array,
  float32: Float32Array,
  float64: Float64Array,
};

function checkObservation(obs: CheckedObservation, spec: Readonly<Record<string, ArraySpec>>, where: string, problems: string[]): void {
  for (const [key, s] of Object.entries(spec)) {
    const value = (obs as unknown as Record<string, unknown>)[key];
    const values: ArrayLike<number> = typeof value === 'number' ? [value] : (value as ArrayLike<number>);
    if (values === undefined || values === null) {
      problems.push(`${where}: observation has no '${key}'`);
      continue;
    }
    if (typeof value !== 'number' && s.length > 1 && !(value instanceof DTYPE[s.dtype]))
      problems.push(`${where}: observation.${key} is not a ${s.dtype} array`);
    if (s.variable ? values.length > s.length : values.length !== s.length)
      problems.push(`${where}: observation.${key} has length ${values.length}, declared ${s.variable ? '≤ ' : ''}${s.length}`);
    for (let i = 0; i < values.length; i++) {
      if (!(values[i] >= s.low && values[i] <= s.high)) {
        problems.push(`${where}: observation.${key}[${i}] = ${values[i]} is outside [${s.low}, ${s.high}]`);
        break;
      }
    }
  }
}

/**
 * The episode summary's end cause (when it reports one, as ProactiveRecEnv's `end` does) against
 * what happened: STOP that terminated is 'stop', truncation is 'maxLength', any other termination
 * (the user left) is neither; `stopped`, when present, is true exactly for 'stop'. One cause each.
 */
function endProblems(episode: unknown, stopAction: boolean, terminated: boolean, truncated: boolean, where: string, problems: string[]): void {
  const e = episode as { end?: unknown; stopped?: unknown };
  if (typeof e !== 'object' || e === null || !('end' in e)) return;
  const expected = stopAction && terminated ? 'stop' : truncated ? 'maxLength' : null;
  if (expected !== null && e.end !== expected)
    problems.push(`${where}: the episode ended by ${expected === 'stop' ? 'STOP' : 'truncation at L_max'}, its summary says end '${String(e.end)}'`);
  if (expected === null && (e.end === 'stop' || e.end === 'maxLength'))
    problems.push(`${where}: the episode ended without STOP or truncation, its summary says end '${String(e.end)}'`);
  if ('stopped' in e && e.stopped !== (e.end === 'stop')) problems.push(`${where}: the summary says stopped ${String(e.stopped)} with end '${String(e.end)}'`);
}

/** One seeded rollout: the actions and rewards, and any shape problems seen on the way. */
function rollout(env: CheckableEnv, seed: number, problems: string[]): { actions: number[]; rewards: number[]; caseIndex: unknown } {
  const rng = Rng.stream(seed, 'check-policy');
  const { observation, info } = env.reset({ seed });
  checkObservation(observation, env.observationSpec, `reset(seed=${seed})`, problems);
  let obs = observation;
  const actions: number[] = [];
  const rewards: number[] = [];
  for (let t = 0; t < 1000; t++) {
    const allowed: number[] = [];
    for (let a = 0; a < obs.actionMask.length; a++) if (obs.actionMask[a]) allowed.push(a);
    // Stop with probability 0.1 so both endings (STOP and truncation) occur across seeds.
    const action = rng.float() < 0.1 ? env.actionSpace.stop : allowed[rng.int(allowed.length)];
    const r = env.step(action);
    checkObservation(r.observation, env.observationSpec, `step ${t} (seed=${seed})`, problems);
    for (const key of env.infoKeys) if (!(key in r.info)) problems.push(`step ${t}: info has no '${key}'`);
    if (!Number.isFinite(r.reward)) problems.push(`step ${t} (seed=${seed}): reward ${r.reward} is not finite`);
    actions.push(action);
    rewards.push(r.reward);
    obs = r.observation;
    if (r.terminated || r.truncated) {
      if (!r.info.episode) problems.push(`step ${t}: the last step's info has no episode summary`);
      else endProblems(r.info.episode, action === env.actionSpace.stop, r.terminated, r.truncated, `step ${t} (seed=${seed})`, problems);
      return { actions, rewards, caseIndex: info.caseIndex };
    }
  }
  problems.push(`seed ${seed}: episode did not end within 1000 steps`);
  return { actions, rewards, caseIndex: info.caseIndex };
}

export interface CheckEnvReport {
  envId: string;
  rolloutsChecked: number;
}

/** Runs the checks on an environment in 'error' invalid-action mode; throws CheckEnvError listing every problem. */
export function checkEnv(env: CheckableEnv, opts: { seeds?: number[] } = {}): CheckEnvReport {
  const problems: string[] = [];
  const seeds = opts.seeds ?? [0, 1, 2, 3, 4];
  const runs = seeds.map((s) => rollout(env, s, problems));
  const again = seeds.map((s) => rollout(env, s, problems));
  runs.forEach((r, i) => {
    if (JSON.stringify(r) !== JSON.stringify(again[i])) problems.push(`seed ${seeds[i]}: two rollouts with the same seed differ`);
  });
  const distinct = new Set(runs.map((r) => JSON.stringify(r)));
  if (seeds.length > 1 && distinct.size === 1) problems.push(`seeds ${seeds.join(', ')} all gave the same rollout`);

  if (env.config.invalidAction === 'error') {
    const { observation } = env.reset({ seed: seeds[0] });
    const N = env.actionSpace.stop;
    const first = Array.from(observation.actionMask).findIndex((m, a) => m === 1 && a < N);
    const bad: [string, number][] = [
      ['out of range', N + 1],
      ['negative', -1],
      ['not an integer', 0.5],
      ['the target', observation.target],
    ];
    // Only the environment's own InvalidActionError counts as a rejection: any other error (a
    // TypeError from a bug, say) is a failure of the check.
    const rejects = (action: number, what: string) => {
      try {
        env.step(action);
        problems.push(`action ${action} (${what}) was accepted`);
      } catch (e) {
        if (!(e instanceof InvalidActionError))
          problems.push(`action ${action} (${what}) threw ${(e as Error).name}: ${(e as Error).message} instead of an InvalidActionError`);
      }
    };
    for (const [what, action] of bad) rejects(action, what);
    const ok = env.step(first);
    if (!env.config.allowRepeats && !(ok.terminated || ok.truncated)) {
      rejects(first, 'a repeated item with allowRepeats off');
      // After rejections the environment must still step normally.
      const after = env.step(N);
      if (!after.terminated) problems.push('STOP after a rejected action did not terminate the episode');
    }
  }
  if (problems.length) throw new CheckEnvError(env.id, problems);
  return { envId: env.id, rolloutsChecked: runs.length * 2 };
}
