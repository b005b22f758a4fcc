/**
 * The paper's operating point (Hou et al., ICML 2026, and the official code `hongruhou89/ProRL` at
 * 506e913: `config/prorl.yaml`, `trainer_RL_prorl.py`), as data a leaderboard row is compared with:
 * per environment its reward weights and RL learning rate, and the official code's training options.
 * A row whose run changed an environment's paper reward weights, or trained an RL agent far from the
 * paper's learning rate, is flagged wherever the leaderboard is shown (docs/reproduction.md has the
 * measured effect of every difference).
 *
 * The reward weights repeat what the environments declare (envs/builtin.ts `ctrWeight`; this layer
 * reads result files only): a test keeps the two equal.
 */
import type { ResultFile } from './schema.ts';

export interface PaperSetting {
  /** The paper's reward weights w_ioi, w_ior, w_ctr (Steam weights CTR 0.1). */
  weights: { ioi: number; ior: number; ctr: number };
  /** The paper's RL learning rate on this dataset (ML-1M 1e-4, Steam 1e-5, Books 5e-4). */
  lr: number;
}

/** The real environments' paper settings, by environment id. */
export const PAPER_SETTINGS: Readonly<Record<string, PaperSetting>> = {
  'ml-1m-v0': { weights: { ioi: 1, ior: 1, ctr: 1 }, lr: 1e-4 },
  'steam-v0': { weights: { ioi: 1, ior: 1, ctr: 0.1 }, lr: 1e-5 },
  'books-v0': { weights: { ioi: 1, ior: 1, ctr: 1 }, lr: 5e-4 },
};

/** The official code's RL options that this project's `rl` config can express, at the official values. */
export const OFFICIAL_RL_OPTIONS = {
  groupSize: 16,
  casesPerBatch: 16,
  beta: 0.01,
  baseline: 'group-mean',
  clipNorm: 1,
  weightDecay: 0.05,
  warmup: 0.05,
  emptyPaths: 'drop',
  centeringWindow: 153,
} as const;

/** A learning rate this many times the paper's (or its inverse) is "far" from it. */
export const FAR_LR_RATIO = 10;

export type SettingRule = 'far-from-paper' | 'weights-not-paper';

export interface SettingFlag {
  rule: SettingRule;
  short: string;
  message: string;
}

const fmt = (x: number) => (x >= 0.01 && x < 1000 ? String(x) : x.toExponential(0));

/**
 * Flags of a configuration (its first result stands for all its seeds): reward weights other than
 * the environment's paper weights, and an RL agent (an agent config with an `rl` section) whose
 * learning rate is at least FAR_LR_RATIO times from the paper's, listing the official options the
 * run also differs in.
 */
export function settingFlags(r: ResultFile): SettingFlag[] {
  const paper = PAPER_SETTINGS[r.env.id];
  if (!paper) return [];
  const flags: SettingFlag[] = [];
  const w = r.env.config.weights as { ioi: number; ior: number; ctr: number } | undefined;
  if (w && (w.ioi !== paper.weights.ioi || w.ior !== paper.weights.ior || w.ctr !== paper.weights.ctr)) {
    const diff = (['ioi', 'ior', 'ctr'] as const).filter((k) => w[k] !== paper.weights[k]).map((k) => `${k} ${w[k]} (paper ${paper.weights[k]})`);
    flags.push({
      rule: 'weights-not-paper',
      short: 'weights ≠ paper',
      message: `trained and scored with reward weights other than ${r.env.id}'s paper weights: ${diff.join(', ')}; its return is not the paper's objective (docs/reproduction.md)`,
    });
  }
  const rl = (r.agent.config as { rl?: Record<string, unknown> }).rl;
  const lr = typeof rl?.lr === 'number' ? rl.lr : null;
  if (rl && lr !== null && (lr >= paper.lr * FAR_LR_RATIO || lr <= paper.lr / FAR_LR_RATIO)) {
    const ratio = lr / paper.lr;
    const others = Object.entries(OFFICIAL_RL_OPTIONS)
      .filter(([k, v]) => k in rl && rl[k] !== v)
      .map(([k, v]) => `${k} ${JSON.stringify(rl[k])} (official ${JSON.stringify(v)})`);
    flags.push({
      rule: 'far-from-paper',
      short: 'far from paper',
      message:
        `RL trained at lr ${fmt(lr)}, ${ratio >= 1 ? `${fmt(ratio)}×` : `1/${fmt(1 / ratio)} of`} the paper's ${fmt(paper.lr)} on ${r.env.id}` +
        `${others.length ? `; also ${others.join(', ')}` : ''}: not the paper's operating point (at the project defaults ProRL's paths collapse on the real environments; ` +
        "the 'paper' suite trains at the paper's settings: docs/reproduction.md)",
    });
  }
  return flags;
}

/**
 * The settings that decide an RL row's operating point, in one line (null for an agent without an
 * `rl` section): learning rate, updates × paths per update, warm-up, empty paths, baseline, training
 * targets, SRC window and reward weights. Leaderboards print it per row.
 */
export function rlSettingsText(r: ResultFile): string | null {
  const rl = (r.agent.config as { rl?: Record<string, unknown> }).rl;
  if (!rl) return null;
  const num = (k: string) => (typeof rl[k] === 'number' ? (rl[k] as number) : NaN);
  const epochs = r.run.config.trainEpochs ?? num('epochs');
  const updates = epochs * Math.ceil(num('casesPerEpoch') / num('casesPerBatch'));
  const w = r.env.config.weights as { ioi: number; ior: number; ctr: number } | undefined;
  return [
    `lr ${fmt(num('lr'))}`,
    `${updates} updates × ${num('casesPerBatch') * num('groupSize')} paths`,
    `warm-up ${rl.warmup ?? 0}`,
    `empty paths ${rl.emptyPaths ?? 'train'}`,
    `baseline ${rl.baseline}`,
    `targets ${rl.targets}`,
    `SRC window ${rl.centeringWindow ?? 'first-epoch'}`,
    ...(w ? [`weights ioi/ior/ctr ${w.ioi}/${w.ior}/${w.ctr}`] : []),
  ].join(', ');
}
