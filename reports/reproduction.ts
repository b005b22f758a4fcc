/**
 * The reproduction page (docs/reproduction.md): this project's ProRL at the paper's operating point
 * beside the official code's only published training log, generated from committed result files and
 * the official figures kept as data (docs/reproduction/official-steam.json, with their source). Every
 * number on the page comes from those files; the page says which command, code commits and backend
 * produced them. Regenerate with `npm run reproduction` (`--check` fails when the committed page is
 * not what the files give).
 *
 * The runs it reads (labels of the `paper` suite, benchmarks/suites/paper.json):
 *   prorl                    the paper preset (official options, paper lr), training targets random
 *   prorl-case-targets       the same with each train case's own target (the official trainer's records)
 *   prorl-project-defaults   this project's default RL config at the same number of epochs
 *   random, supervised       the floor and the RL agents' starting point, when present
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type, type Static } from '@sinclair/typebox';
import { describeError, exitCodeOf, ProrecError, UsageError } from '../core/errors.ts';
import { writeFileAtomic } from '../core/io.ts';
import { validate } from '../core/validate.ts';
import { flatMetrics } from '../results/metrics.ts';
import { readResults } from '../results/read.ts';
import type { ResultFile } from '../results/schema.ts';
import { summarize } from '../results/stats.ts';
import { renderSvg } from './plots.ts';

const N = Type.Number();
/** The official log's figures (docs/reproduction/official-steam.json). */
export const OfficialLogSchema = Type.Object(
  {
    description: Type.String(),
    source: Type.Object(
      { repository: Type.String(), file: Type.String(), commit: Type.String(), deletedIn: Type.String(), note: Type.String() },
      { additionalProperties: false },
    ),
    settings: Type.Object(
      {
        lr: N,
        beta: N,
        gamma: N,
        weights: Type.Object({ ioi: N, ior: N, ctr: N }),
        groupSize: N,
        updatesPerEpoch: Type.Integer({ minimum: 1 }),
        epochs: N,
        totalUpdates: N,
        warmup: N,
        gpus: N,
      },
      { additionalProperties: false },
    ),
    epochs: Type.Array(
      Type.Object(
        { epoch: Type.Integer(), updates: Type.Integer(), loss: N, pathIoi: N, pathIor: N, pathCtr: N, length: N, lengthNonEmpty: N, stopRatio: N },
        { additionalProperties: false },
      ),
    ),
    perUpdate: Type.Object({ length: Type.Array(N), stopRatio: Type.Array(N) }, { additionalProperties: false }),
    testAfterEpoch1: Type.Record(Type.String(), N),
  },
  { additionalProperties: false },
);
export type OfficialLog = Static<typeof OfficialLogSchema>;

export const REPRODUCTION_DIR = 'docs/reproduction';
export const REPRODUCTION_PAGE = 'docs/reproduction.md';
const CURVE_FILE = 'steam-length.svg';

const LABELS = {
  preset: 'prorl',
  caseTargets: 'prorl-case-targets',
  defaults: 'prorl-project-defaults',
  emptyTrained: 'prorl-empty-paths-trained',
} as const;
const NAMES: Record<string, string> = {
  prorl: 'paper preset, random targets',
  'prorl-case-targets': 'paper preset, case targets',
  'prorl-project-defaults': 'project defaults',
  'prorl-empty-paths-trained': 'paper preset, empty paths trained',
  random: 'random',
  supervised: 'supervised start',
};

/** One RL update's log record (the `train` curve of a result, RL part). */
interface UpdateRecord {
  step: number;
  length: number;
  stopRate: number;
  emptyRate?: number;
  kl: number;
  ioi: number;
  ctr: number;
}

function rlUpdates(r: ResultFile): UpdateRecord[] {
  const train = r.curves.train ?? [];
  return train.filter((p) => 'return' in p && 'length' in p && 'epoch' in p).map((p) => p as unknown as UpdateRecord);
}

const fmt = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : '–');

/** "mean ± half-width" of the 95% t-interval over seeds (just the mean with one seed). */
function cell(values: readonly number[], digits: number): string {
  if (values.length === 0) return '–';
  const s = summarize(values);
  return s.ci95 === null ? fmt(s.mean, digits) : `${fmt(s.mean, digits)} ± ${fmt(s.ci95, digits)}`;
}

function blockMean(xs: readonly number[], from: number, to: number): number {
  const part = xs.slice(from, to);
  return part.length ? part.reduce((a, b) => a + b, 0) / part.length : NaN;
}

function runsOf(results: readonly ResultFile[], envId: string, label: string): ResultFile[] {
  return results.filter((r) => r.env.id === envId && r.run.label === label).sort((a, b) => a.seed - b.seed);
}

/** Mean over runs of per-update values, update by update (runs of equal length). */
function meanCurve(runs: readonly ResultFile[], key: keyof UpdateRecord): number[] {
  const curves = runs.map((r) => rlUpdates(r).map((u) => Number(u[key] ?? NaN)));
  const n = Math.min(...curves.map((c) => c.length));
  return Array.from({ length: Number.isFinite(n) ? n : 0 }, (_, i) => curves.reduce((a, c) => a + c[i], 0) / curves.length);
}

function mdTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

const seedsOf = (runs: readonly ResultFile[]) => (runs.length ? `seeds ${runs.map((r) => r.seed).join(', ')}` : 'not run');

/**
 * The learning-rate protocol: per estimator (label `<estimator>-lr<lr>` of the `tuning` suite), the
 * valid-split metrics of each learning rate, and the one with the best mean target-specific IoI.
 */
function tuningSection(tuning: readonly ResultFile[]): string[] {
  if (tuning.length === 0) return [];
  const envs = [...new Set(tuning.map((r) => r.env.id))].sort();
  const out: string[] = [
    '## The default learning rates: a valid-split protocol',
    '',
    `The \`tuning\` suite (\`benchmarks/suites/tuning.json\`; results in \`docs/reproduction/tuning/results/\`): every RL estimator at the default budget ` +
      '(5 epochs × 16 updates × 256 paths) with lr 1e-3, 1e-4 and 1e-5, everything else at its defaults, the same search for every estimator, ' +
      `scored on the **valid** split of ${envs.join(', ')} (${tuning[0].episodes} cases per seed; seeds ${[...new Set(tuning.map((r) => r.seed))].sort().join(', ')}). ` +
      'Mean ± 95% t-interval over seeds; the best lr per estimator by mean target-specific IoI is marked.',
    '',
  ];
  for (const env of envs) {
    const rs = tuning.filter((r) => r.env.id === env);
    const byLabel = new Map<string, ResultFile[]>();
    for (const r of rs) byLabel.set(r.run.label, [...(byLabel.get(r.run.label) ?? []), r]);
    const parsed = [...byLabel.keys()]
      .map((l) => ({ l, m: /^(.*)-lr(.*)$/.exec(l) }))
      .filter((x): x is { l: string; m: RegExpExecArray } => x.m !== null)
      .map(({ l, m }) => ({ label: l, estimator: m[1], lr: Number(m[2]) }));
    const estimators = [...new Set(parsed.map((p) => p.estimator))];
    const values = (label: string, metric: string) =>
      byLabel
        .get(label)!
        .map((r) => flatMetrics(r)[metric])
        .filter((v): v is number => typeof v === 'number');
    // Per estimator, once: its learning rates (largest first), the best by mean specific IoI, and
    // whether that one's 95% t-interval over seeds is clear of every other's.
    const stat = (label: string) => summarize(values(label, 'specificIoi'));
    const lo = (x: ReturnType<typeof summarize>) => x.mean - (x.ci95 ?? Infinity);
    const hi = (x: ReturnType<typeof summarize>) => x.mean + (x.ci95 ?? Infinity);
    const searches = estimators.map((e) => {
      const cands = parsed.filter((p) => p.estimator === e).sort((a, b) => b.lr - a.lr);
      const best = cands.reduce((a, b) => (stat(b.label).mean > stat(a.label).mean ? b : a));
      const separated = cands.filter((c) => c !== best).every((c) => hi(stat(c.label)) < lo(stat(best.label)));
      return { e, cands, best, separated };
    });
    const rows = searches.flatMap(({ e, cands, best }) =>
      cands.map((c) => [
        e,
        `${c.lr.toExponential(0)}${c === best ? ' (best)' : ''}`,
        cell(values(c.label, 'specificIoi'), 3),
        cell(values(c.label, 'targetPercentile'), 3),
        cell(values(c.label, 'length'), 2),
        cell(values(c.label, 'ctr'), 3),
        cell(values(c.label, 'eval.specificIoi'), 3),
      ]),
    );
    out.push(
      `### ${env} (valid split)`,
      '',
      ...mdTable(['estimator', 'lr', 'specific IoI', 'percentile', 'length', 'CTR', 'specific IoI (evaluator)'], rows),
      '',
    );
    const verdicts = searches.map(
      ({ e, best, separated }) =>
        `${e}: best mean at lr ${best.lr.toExponential(0)}, ${separated ? 'separated from the others' : 'not separated from the others (intervals overlap)'}`,
    );
    out.push(`By target-specific IoI on the valid split: ${verdicts.join('; ')}.`, '');
  }
  return out;
}

/** The page (Markdown) and the length-curve plot (SVG) from the results and the official log. */
export async function buildReproduction(
  results: readonly ResultFile[],
  official: OfficialLog,
  tuning: readonly ResultFile[] = [],
): Promise<{ markdown: string; svg: string }> {
  const steam = (label: string) => runsOf(results, 'steam-v0', label);
  const preset = steam(LABELS.preset);
  const caseT = steam(LABELS.caseTargets);
  const defaults = steam(LABELS.defaults);
  const W = official.settings.updatesPerEpoch;
  const commits = [...new Set(results.map((r) => `${r.code.commit?.slice(0, 7) ?? 'unknown'}${r.code.modified ? ' with local changes' : ''}`))].sort();
  const backends = [...new Set(results.map((r) => r.backend.name))].sort();
  const out: string[] = [];

  out.push(
    '# Reproducing the paper: ProRL at its own operating point',
    '',
    '<!-- Generated by `npm run reproduction` from docs/reproduction/results/*.json and docs/reproduction/official-steam.json; do not edit by hand. -->',
    '',
    `Generated by \`npm run reproduction\` from ${results.length} result files in \`docs/reproduction/results/\` ` +
      `(written by \`prorec-gym bench --suite paper\`; code commit${commits.length > 1 ? 's' : ''} ${commits.join(', ')} as the files record it, ` +
      `backend ${backends.join(', ')}, a 2-core machine) and the official log's figures in \`docs/reproduction/official-steam.json\` ` +
      `(\`${official.source.repository}\`, \`${official.source.file}\` at commit ${official.source.commit}, deleted in ${official.source.deletedIn}). ` +
      'Every number below comes from those files.',
    '',
    "The `paper` suite (`benchmarks/suites/paper.json`) trains at the paper's operating point: the official code's options " +
      '(`warmup: 0.05`, `emptyPaths: "drop"`, `baseline: "group-mean"`, `clipNorm: 1`, `weightDecay: 0.05`, `centeringWindow: 153`), ' +
      "the paper's learning rate per dataset (ML-1M 1e-4, Steam 1e-5, Books 5e-4) and each environment's paper reward weights (Steam's CTR 0.1). " +
      'Its default budget, `preset`, runs 765 updates (five official SRC windows of 153) of 16 cases × 16 paths and evaluates 512 test cases; ' +
      "budget `paper` runs the full 50 epochs (7,650 updates) on every test case, a cluster's job. Reproduce a row with",
    '',
    '```sh',
    'npx prorec-gym bench --suite paper --env steam-v0 --agent prorl --seeds 3 --out runs/paper',
    '```',
    '',
    'and this page, after copying the result files into `docs/reproduction/results/`, with `npm run reproduction`.',
    '',
  );

  // 1. Training dynamics on Steam, per official epoch (153 updates).
  out.push(
    '## Steam: sampled path length per block of 153 updates',
    '',
    `Mean length of the paths sampled for training (items per path) and the share ending with STOP, per block of ${W} updates ` +
      `(one official epoch). Official: ProRL on Steam, ${official.settings.gpus} processes, lr ${official.settings.lr.toExponential(0)}; ` +
      `this project: mean ± 95% t-interval over seeds (${seedsOf(preset)} for the preset; ${seedsOf(caseT)} with case targets).`,
    '',
  );
  const presetLen = preset.map((r) => rlUpdates(r).map((u) => u.length));
  const presetStop = preset.map((r) => rlUpdates(r).map((u) => u.stopRate));
  const caseLen = caseT.map((r) => rlUpdates(r).map((u) => u.length));
  const caseStop = caseT.map((r) => rlUpdates(r).map((u) => u.stopRate));
  const blocks = official.epochs.length;
  out.push(
    ...mdTable(
      ['updates', 'official: length', 'official: STOP share', 'preset, random targets: length', 'STOP share', 'preset, case targets: length', 'STOP share'],
      Array.from({ length: blocks }, (_, b) => {
        const e = official.epochs[b];
        const from = b * W;
        const to = (b + 1) * W;
        const at = (runs: number[][]) => runs.filter((c) => c.length >= to).map((c) => blockMean(c, from, to));
        return [
          `${from + 1}–${to}`,
          fmt(e.length, 2),
          fmt(e.stopRatio, 3),
          cell(at(presetLen), 2),
          cell(at(presetStop), 3),
          cell(at(caseLen), 2),
          cell(at(caseStop), 3),
        ];
      }),
    ),
    '',
    ...readingLines(official, presetLen, caseLen, W),
    `![Per-update sampled path length on Steam](reproduction/${CURVE_FILE})`,
    '',
    "The official curve is process 0's batch per update as its progress bar printed it (rounded to 0.1 by the log); " +
      "this project's curves are the mean over seeds of each update's batch (256 paths).",
    '',
  );

  // The defaults, per epoch of their own (16 updates).
  if (defaults.length) {
    const len = defaults.map((r) => rlUpdates(r).map((u) => u.length));
    const empty = defaults.map((r) => rlUpdates(r).map((u) => u.emptyRate ?? NaN));
    const kl = defaults.map((r) => rlUpdates(r).map((u) => u.kl));
    const per = Math.max(1, Math.round(rlUpdates(defaults[0]).length / 5));
    const nBlocks = Math.ceil(rlUpdates(defaults[0]).length / per);
    out.push(
      `### The project defaults on Steam (${seedsOf(defaults)})`,
      '',
      `The \`prorl\` agent's default config (lr ${lrOf(defaults[0])}, ${per} updates per epoch, no warm-up, empty paths trained, leave-one-out baseline, ` +
        'SRC statistics of the first epoch) at the same five epochs, per epoch: length of the sampled paths, share of empty paths (STOP first) and KL to the supervised policy (nats per path).',
      '',
      ...mdTable(
        ['updates', 'length', 'empty share', 'KL per path'],
        Array.from({ length: nBlocks }, (_, b) => {
          const from = b * per;
          const to = (b + 1) * per;
          return [
            `${from + 1}–${to}`,
            cell(
              len.map((c) => blockMean(c, from, to)),
              2,
            ),
            cell(
              empty.map((c) => blockMean(c, from, to)),
              3,
            ),
            cell(
              kl.map((c) => blockMean(c, from, to)),
              2,
            ),
          ];
        }),
      ),
      '',
    );
  }

  // 2. Test metrics@K on Steam.
  out.push(
    '## Steam: test metrics@K',
    '',
    'Best of the first K candidate paths per case (each metric on its own), averaged over cases, as the official code reports them. ' +
      `Official: after ${W} updates (RL epoch 1), every Steam test case; this project: after the run's last update, 512 test cases, ` +
      "candidates from the policy's `proposePaths` (beam search). Mean ± 95% t-interval over seeds.",
    '',
  );
  const labelsK = [LABELS.preset, LABELS.caseTargets, LABELS.defaults].filter((l) => steam(l).length > 0);
  const kRows: string[][] = [];
  for (const [name, key, digits] of [
    ['CTR', 'ctr', 3],
    ['coherence', 'coherence', 3],
    ['IoI', 'ioi', 3],
    ['IoR', 'ior', 1],
  ] as const) {
    for (const k of [1, 5, 10]) {
      // The official log's names: ctr@K, coherence@K, IoI@K, IoR@K.
      const officialKey = `${name === 'IoI' || name === 'IoR' ? name : key}@${k}`;
      const o = official.testAfterEpoch1[officialKey];
      kRows.push([
        `${name}@${k}`,
        o === undefined ? '–' : fmt(o, digits),
        ...labelsK.map((l) =>
          cell(
            steam(l)
              .map((r) => flatMetrics(r)[`${key}@${k}.max`])
              .filter((v): v is number => typeof v === 'number'),
            digits,
          ),
        ),
      ]);
    }
  }
  out.push(...mdTable(['metric', `official (${W} updates)`, ...labelsK.map((l) => `${NAMES[l]} (${rlUpdates(steam(l)[0]).length} updates)`)], kRows), '');

  // 3. Greedy (act) metrics per environment.
  out.push(
    '## Every environment: the trained policy, greedy',
    '',
    "The benchmark's own metrics (docs/design.md §3): the policy acts greedily, step by step, on the test cases; IoI and the target-specific numbers " +
      'under the reward simulator (SASRec) and the held-out evaluator (GRU4Rec). Mean ± 95% t-interval over seeds (one seed: the mean). ' +
      "The random row is the floor; the supervised row is the RL agents' starting point at the same seed (when run).",
    '',
  );
  const envIds = [...new Set(results.map((r) => r.env.id))].sort(
    (a, b) => ['ml-1m-v0', 'steam-v0', 'books-v0'].indexOf(a) - ['ml-1m-v0', 'steam-v0', 'books-v0'].indexOf(b),
  );
  const cols = [
    ['length', 'length', 2],
    ['specificIoi', 'specific IoI', 3],
    ['targetPercentile', 'percentile', 3],
    ['ioi', 'IoI', 3],
    ['ctr', 'CTR', 3],
    ['coherence', 'coherence', 3],
    ['eval.specificIoi', 'specific IoI (evaluator)', 3],
    ['eval.targetPercentile', 'percentile (evaluator)', 3],
  ] as const;
  for (const env of envIds) {
    const labels = ['random', 'supervised', LABELS.preset, LABELS.emptyTrained, LABELS.caseTargets, LABELS.defaults].filter(
      (l) => runsOf(results, env, l).length > 0,
    );
    out.push(`### ${env}`, '');
    out.push(
      ...mdTable(
        ['agent', 'seeds', ...cols.map(([, h]) => h)],
        labels.map((l) => {
          const rs = runsOf(results, env, l);
          return [
            NAMES[l] ?? l,
            rs.map((r) => r.seed).join(', '),
            ...cols.map(([m, , d]) =>
              cell(
                rs.map((r) => flatMetrics(r)[m]).filter((v): v is number => typeof v === 'number'),
                d,
              ),
            ),
          ];
        }),
      ),
      '',
    );
  }

  // 4. Differences from the official code.
  out.push('## Every known difference from the official code', '', ...differences(results, official), '');

  // 5. The learning-rate protocol behind the defaults.
  out.push(...tuningSection(tuning));

  const svg = await renderSvg(lengthCurveSpec(official, meanCurve(preset, 'length'), meanCurve(caseT, 'length'), meanCurve(defaults, 'length')));
  return { markdown: out.join('\n'), svg };
}

/** What the length table says, in numbers the files give (no sentence names a number typed by hand). */
function readingLines(official: OfficialLog, presetLen: number[][], caseLen: number[][], W: number): string[] {
  const lastBlock = official.epochs.length - 1;
  const from = lastBlock * W;
  const to = from + W;
  const at = (runs: number[][], a: number, b: number) => summarize(runs.filter((c) => c.length >= b).map((c) => blockMean(c, a, b)));
  const p0 = at(presetLen, 0, W);
  const p1 = at(presetLen, from, to);
  const c0 = at(caseLen, 0, W);
  const c1 = at(caseLen, from, to);
  const o0 = official.epochs[0].length;
  const o1 = official.epochs[lastBlock].length;
  const lines: string[] = [];
  if (p1.n > 0)
    lines.push(
      `With random training targets the sampled paths shorten as in the official log: ${fmt(p0.mean, 2)} → ${fmt(p1.mean, 2)} items from the first to the last block ` +
        `(official ${fmt(o0, 2)} → ${fmt(o1, 2)}), ${o1 > p1.mean ? 'ending shorter' : 'ending longer'} than the official run by ${fmt(Math.abs(o1 - p1.mean), 2)} items.`,
    );
  if (c1.n > 0)
    lines.push(
      `With each train case's own target they lengthen instead: ${fmt(c0.mean, 2)} → ${fmt(c1.mean, 2)} items. ` +
        "The official training file is not public, so which of the two the paper used cannot be told; the official log's direction is that of random targets.",
    );
  return lines.length ? [lines.join(' '), ''] : [];
}

function lrOf(r: ResultFile): string {
  const lr = (r.agent.config as { rl?: { lr?: number } }).rl?.lr;
  return lr === undefined ? '?' : lr.toExponential(0);
}

/** The table of differences, with the effect measured by the committed runs where they measure it. */
function differences(results: readonly ResultFile[], official: OfficialLog): string[] {
  const steam = (l: string) => runsOf(results, 'steam-v0', l);
  const last = (runs: readonly ResultFile[]) =>
    runs.map((r) => {
      const len = rlUpdates(r).map((u) => u.length);
      const n = Math.max(1, Math.round(len.length / 5));
      return blockMean(len, len.length - n, len.length);
    });
  const endLen = (l: string) => cell(last(steam(l)), 2);
  const greedy = (l: string, m: string, d: number) =>
    cell(
      steam(l)
        .map((r) => flatMetrics(r)[m])
        .filter((v): v is number => typeof v === 'number'),
      d,
    );
  const emptyDefaults = cell(
    steam(LABELS.defaults).map((r) => {
      const e = rlUpdates(r).map((u) => u.emptyRate ?? NaN);
      const n = Math.max(1, Math.round(e.length / 5));
      return blockMean(e, e.length - n, e.length);
    }),
    3,
  );
  const o = official.settings;
  const rows: string[][] = [
    [
      'Learning rate and the rest of the default RL config',
      `lr ${o.lr.toExponential(0)} on Steam (1e-4 ML-1M, 5e-4 Books), warm-up, group-mean baseline, clipping 1, weight decay 0.05`,
      'defaults: lr 1e-3, 16 updates per epoch; the `paper` suite and the `far from paper` flag',
      `Steam, sampled length over the last epoch: preset ${endLen(LABELS.preset)}, defaults ${endLen(LABELS.defaults)}; greedy test length preset ${greedy(LABELS.preset, 'length', 2)}, defaults ${greedy(LABELS.defaults, 'length', 2)}`,
    ],
    [
      'Empty paths (STOP first)',
      'no term, no baseline, no share of N (`valid = num_items > 0`)',
      '`emptyPaths: "drop"` (preset) or `"train"` (default: the STOP term is trained, counts in N)',
      [
        `share of empty training paths in the defaults' last epoch on Steam: ${emptyDefaults}`,
        ...['ml-1m-v0', 'steam-v0'].map((env) => {
          const g = (l: string) => runsOf(results, env, l).filter((r) => runsOf(results, env, LABELS.emptyTrained).some((x) => x.seed === r.seed));
          if (g(LABELS.emptyTrained).length === 0) return null;
          const len = (l: string) =>
            cell(
              g(l).map((r) => r.metrics.length),
              2,
            );
          const spec = (l: string) =>
            cell(
              g(l).map((r) => r.metrics.specificIoi),
              3,
            );
          return `${env} at the preset (seeds ${g(LABELS.emptyTrained)
            .map((r) => r.seed)
            .join(
              ', ',
            )}), greedy test length / specific IoI: dropped ${len(LABELS.preset)} / ${spec(LABELS.preset)}, trained ${len(LABELS.emptyTrained)} / ${spec(LABELS.emptyTrained)}`;
        }),
      ]
        .filter((x): x is string => x !== null)
        .join('; '),
    ],
    [
      'Training targets',
      "each record's own target (the official trainer's data; its train file is not public)",
      '`targets: "random"` (default and preset) or `"case"`',
      `Steam, sampled length over the last epoch: random ${endLen(LABELS.preset)}, case ${endLen(LABELS.caseTargets)}`,
    ],
    [
      'Batch per update',
      `${o.gpus} processes × 128 prompts × ${o.groupSize} paths = 8,192 paths (gradients averaged across processes)`,
      '16 cases × 16 paths = 256 paths (the preset: a run takes minutes on 2 cores); `rl.casesPerBatch` sets it',
      'not measured at 8,192 paths here (32× the compute per update)',
    ],
    [
      'SRC statistics window',
      `the first epoch: ${o.updatesPerEpoch} updates × 8,192 paths`,
      '`centeringWindow: 153` updates (preset) of 256 paths; default: the first epoch (16 updates)',
      'not separated from the other preset options',
    ],
    [
      'KL term',
      'β(ℓ_t − ℓ_ref,t) on the sampled actions (its gradient has zero mean)',
      "exact per-step KL over the action distribution (`kl: 'exact'`); `kl: 'penalty'` puts β(ℓ − ℓ_ref) into the rewards",
      'not measured',
    ],
    [
      'Policy network and item representation',
      'T5 encoder–decoder (3+3 layers, d 128) over semantic ids (3 codebooks × 256), 2.1 M parameters',
      'a decoder over item ids with an attribute / co-occurrence prior (agents/policy.ts)',
      'not measurable here (the official model does not run in this project)',
    ],
    [
      'Simulators',
      'SASRec (reward) trained on the full logs (ML-1M: 1,000,209 ratings)',
      'SASRec / GRU4Rec trained on the release\'s stitched sequences (ML-1M: 105,337 interactions); `simulatorData: "logs"` trains on raw logs when the user has them',
      'not measured (the raw logs cannot be downloaded on the machine that made this page)',
    ],
    [
      'Evaluation',
      'every test case; metrics@K over K beam-search candidates',
      '512 test cases per seed (preset); metrics@K over K beam-search candidates of the policy',
      'see the @K table: the official figures are after 153 updates, ours after 765',
    ],
    [
      'Reward weights in the other suites',
      'Steam CTR 0.1',
      '`agents-real` keeps CTR 1 on steam-v0 explicitly (its published rows); such rows are flagged `weights ≠ paper`',
      '—',
    ],
  ];
  return mdTable(['difference', 'official code', 'this project', "measured effect (this page's runs)"], rows);
}

function lengthCurveSpec(official: OfficialLog, preset: number[], caseT: number[], defaults: number[]): Record<string, unknown> {
  const values: { update: number; length: number; series: string }[] = [];
  const n = Math.max(preset.length, caseT.length, 1);
  official.perUpdate.length
    .slice(0, Math.max(n, official.settings.updatesPerEpoch))
    .forEach((v, i) => values.push({ update: i + 1, length: v, series: 'official (process 0)' }));
  preset.forEach((v, i) => values.push({ update: i + 1, length: v, series: 'preset, random targets' }));
  caseT.forEach((v, i) => values.push({ update: i + 1, length: v, series: 'preset, case targets' }));
  defaults.forEach((v, i) => values.push({ update: i + 1, length: v, series: 'project defaults' }));
  return {
    width: 640,
    height: 240,
    title: 'Steam: sampled path length per update',
    data: { values },
    mark: { type: 'line', strokeWidth: 1.2 },
    encoding: {
      x: { field: 'update', type: 'quantitative', title: 'update' },
      y: { field: 'length', type: 'quantitative', title: 'items per path' },
      color: { field: 'series', type: 'nominal', title: null, scale: { scheme: 'tableau10' }, legend: { labelLimit: 400 } },
    },
  };
}

export class ReproductionError extends ProrecError {
  readonly kind = 'input';
}

/** Reads the inputs, builds the page; with `check`, compares with the files on disk instead of writing. */
export async function writeReproduction(root: string, opts: { check?: boolean } = {}): Promise<{ changed: string[] }> {
  const dir = path.join(root, REPRODUCTION_DIR);
  const officialFile = path.join(dir, 'official-steam.json');
  if (!existsSync(officialFile)) throw new ReproductionError(`${officialFile}: the official figures are missing`);
  const official = validate(OfficialLogSchema, JSON.parse(readFileSync(officialFile, 'utf8')), officialFile);
  const results = readResults(dir);
  if (results.length === 0) throw new ReproductionError(`${path.join(dir, 'results')}: no result files (run the paper suite and copy its results/ here)`);
  const tuning = readResults(path.join(dir, 'tuning'));
  const { markdown, svg } = await buildReproduction(results, official, tuning);
  const files: [string, string][] = [
    [path.join(root, REPRODUCTION_PAGE), markdown + '\n'],
    [path.join(dir, CURVE_FILE), svg + '\n'],
  ];
  const changed = files.filter(([f, text]) => !existsSync(f) || readFileSync(f, 'utf8') !== text).map(([f]) => f);
  if (!opts.check) for (const [f, text] of files) writeFileAtomic(f, text);
  return { changed };
}

export async function reproductionMain(args: string[], err: (t: string) => void = (t) => void process.stderr.write(t)): Promise<number> {
  try {
    const unknown = args.filter((a) => a !== '--check');
    if (unknown.length) throw new UsageError(`reproduction: unknown argument ${unknown[0]} (usage: npm run reproduction [-- --check])`);
    const check = args.includes('--check');
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    const { changed } = await writeReproduction(root, { check });
    if (check && changed.length) {
      err(`reproduction: ${changed.map((f) => path.relative(root, f)).join(', ')} differ from what the result files give; run npm run reproduction\n`);
      return 1;
    }
    err(check ? 'reproduction: the page matches its result files\n' : `reproduction: wrote ${REPRODUCTION_PAGE} and ${REPRODUCTION_DIR}/${CURVE_FILE}\n`);
    return 0;
  } catch (e) {
    err(describeError('reproduction', e));
    return exitCodeOf(e);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  reproductionMain(process.argv.slice(2)).then((code) => process.exit(code));
}
