/**
 * The result file: one per (environment, agent, seed), the contract that leaderboards, the
 * regression gate and reports build on. The schema is the single source of truth for its type.
 * Everything except `timings` is a deterministic function of the inputs (same seed and backend).
 *
 * Versions (bump on any change a reader must know about; readers reject other versions):
 * - 1: env, agent, seed, metrics, evaluatorMetrics, cases, curves, timings.
 * - 2: adds `run` (suite, budget, label, the hashed run config: a rerun with the same hash is
 *   skipped), `atK` (metrics@K over candidate paths, docs/design.md §3.6) and `examples` (a few cases with
 *   the titles and attributes of their items, so that reports need nothing but result files).
 * - 3: the run config is complete (every default of the agent, environment and world filled in;
 *   hashed as RFC 8785 canonical JSON) and holds no wall-clock budget (`trainSeconds` is gone);
 *   per-case random streams (results no longer depend on batch size or chunking); invalid actions
 *   counted (`cases[].invalid`, `metrics.invalidRate`) and their penalties in `return`; mid-rank
 *   ties in IoR and success; training wall times in `timings.train`, out of the curves;
 *   target specificity (`specificIoi`, `targetPercentile`, `genericIoi`) under both simulators,
 *   per case and in the aggregates.
 * - 4: `env.dataset` says which interactions the simulators saw (`simulatorInteractions`,
 *   `simulatorData`); `leftRate` (users who left: patience).
 *   Later within 4: the optional `run.config.agentCode` (a plug-in agent's code hash; files
 *   without it are still read, and registered agents' run hashes are unchanged).
 *   Later within 4: each case's `end` ('stop', 'maxLength' or 'left': one cause) replaces
 *   `stopped`, and `metrics.maxLengthRate` joins `stopRate` and `leftRate` (the three sum to 1).
 *   Before, an episode the user left counted as stopped (stopRate 1 for an agent that never
 *   stops): files without `end` are invalid and rerun (run hashes are unchanged).
 * 5: metrics@K also give `coherence` (null when none of a case's first K candidates has an item:
 *   such cases are left out of its average) and `length` of the candidate paths, as the official
 *   code reports coherence@K beside CTR, IoI and IoR@K.
 *   Later within 5: the optional `extraEvaluatorMetrics` (the evaluator metrics under each extra
 *   evaluator simulator of the world option `extraEvaluators`; docs/evaluators.md). It is absent
 *   when the world asks for none: such files, and files written before, read as before.
 *   Later within 5: the optional `code.modified` (a checkout's tracked files differed from `code.commit`).
 */
import { Type, type Static } from '@sinclair/typebox';

export const RESULT_SCHEMA_VERSION = 5;

const Nullable = <T extends ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);

/**
 * Is the IoI toward the target? Per case, from one softmax over all items before and after the
 * accepted path (benchmarks/specificity.ts): genericIoi = the mean IoI of the items outside
 * history and path (what a uniformly random target would have got), specificIoi = ioi − genericIoi,
 * targetPercentile = the target's mid-rank percentile among those items by IoI (0.5: blind).
 */
const SpecificityFields = {
  specificIoi: Type.Number(),
  genericIoi: Type.Number(),
  targetPercentile: Type.Number({ minimum: 0, maximum: 1 }),
};

export const MetricsSchema = Type.Object(
  {
    ioi: Type.Number(),
    ...SpecificityFields,
    ior: Type.Number(),
    ctr: Type.Number(),
    coherence: Nullable(Type.Number()),
    length: Type.Number(),
    /** Mean over cases of invalid actions / actions taken (STOP excluded): 0 unless invalidAction is 'penalize'. */
    invalidRate: Type.Number(),
    duplicateRate: Type.Number(),
    success: Type.Number(),
    return: Type.Number(),
    /** Episodes ended by the agent's STOP. stopRate + maxLengthRate + leftRate = 1: each episode has one end (`cases[].end`). */
    stopRate: Type.Number(),
    /** Episodes that reached L_max (truncated). */
    maxLengthRate: Type.Number(),
    /** Episodes the user left (patience exhausted; 0 unless the environment models patience). */
    leftRate: Type.Number(),
  },
  { additionalProperties: false },
);

export const EvaluatorMetricsSchema = Type.Object(
  { ioi: Type.Number(), ...SpecificityFields, ior: Type.Number(), ctr: Type.Number(), success: Type.Number() },
  { additionalProperties: false },
);

/** The evaluator metrics under one extra evaluator simulator (world option extraEvaluators; envs/extra-evaluators.ts). */
export const ExtraEvaluatorMetricsSchema = Type.Object(
  {
    id: Type.String({
      pattern: '^[A-Za-z0-9_-]{1,64}$',
      description: "the extra evaluator's id (world option extraEvaluators[].id, default <model>-seed<seed>): its metrics are named evalx.<id>.<metric>",
    }),
    metrics: Type.Object(EvaluatorMetricsSchema.properties, {
      additionalProperties: false,
      description:
        "means over cases, computed as evaluatorMetrics: each episode's recommendations and the user's recorded acceptances replayed under this simulator (IoI, IoR, CTR, success) and the specificity of its accepted path",
    }),
  },
  { additionalProperties: false },
);

export const CaseResultSchema = Type.Object(
  {
    caseIndex: Type.Integer({ minimum: 0 }),
    target: Type.Integer({ minimum: 0 }),
    path: Type.Array(Type.Integer({ minimum: 0 })),
    ioi: Type.Number(),
    ...SpecificityFields,
    ior: Type.Number(),
    ctr: Type.Number(),
    coherence: Nullable(Type.Number()),
    length: Type.Integer({ minimum: 0 }),
    /** Invalid actions in the episode (each paid the penalty; not part of `path`). */
    invalid: Type.Integer({ minimum: 0 }),
    success: Type.Boolean(),
    return: Type.Number(),
    /** Why the episode ended, one cause: the agent's STOP, L_max reached, or the user left (patience). */
    end: Type.Unsafe<'stop' | 'maxLength' | 'left'>({ type: 'string', enum: ['stop', 'maxLength', 'left'] }),
    evaluator: Type.Union([EvaluatorMetricsSchema, Type.Null()]),
  },
  { additionalProperties: false },
);

export const CurvePointSchema = Type.Record(Type.String(), Type.Number());

/** Metrics of one candidate path aggregated over the first K candidates of each case, then averaged over cases. */
export const AtKValuesSchema = Type.Object(
  {
    ioi: Type.Number(),
    ior: Type.Number(),
    ctr: Type.Number(),
    return: Type.Number(),
    success: Type.Number(),
    /** Over the cases where at least one of the first K candidates has an item (coherence of an empty path is undefined); null when none has. */
    coherence: Nullable(Type.Number()),
    length: Type.Number(),
  },
  { additionalProperties: false },
);
export const AtKEvaluatorValuesSchema = Type.Object(
  { ioi: Type.Number(), ior: Type.Number(), ctr: Type.Number(), success: Type.Number() },
  { additionalProperties: false },
);

export const AtKSchema = Type.Object(
  {
    /** How the candidates were produced: the agent's proposePaths(observations at reset, K). */
    source: Type.Literal('proposePaths'),
    /** Candidates requested per case (the largest K). */
    requested: Type.Integer({ minimum: 1 }),
    /** Mean number of candidates the agent returned per case (it may return fewer than requested). */
    meanCandidates: Type.Number({ minimum: 0 }),
    results: Type.Array(
      Type.Object(
        {
          k: Type.Integer({ minimum: 1 }),
          /** Per metric, the best of the first K candidates of each case (each metric on its own), averaged over cases. */
          max: AtKValuesSchema,
          /** Per metric, the mean over the first K candidates of each case, averaged over cases. */
          mean: AtKValuesSchema,
          /** The same under the evaluator simulator, when the environment has one. */
          evaluator: Type.Union([Type.Object({ max: AtKEvaluatorValuesSchema, mean: AtKEvaluatorValuesSchema }, { additionalProperties: false }), Type.Null()]),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const ItemInfoSchema = Type.Object(
  {
    /** Untrusted text from the dataset: escape before display. */
    title: Type.String(),
    attributes: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);

/** A few evaluated cases shown in full, with the item information a report needs to display them. */
export const ExamplesSchema = Type.Object(
  {
    cases: Type.Array(
      Type.Object(
        {
          caseIndex: Type.Integer({ minimum: 0 }),
          history: Type.Array(Type.Integer({ minimum: 0 })),
          target: Type.Integer({ minimum: 0 }),
          path: Type.Array(Type.Integer({ minimum: 0 })),
        },
        { additionalProperties: false },
      ),
    ),
    /** Title and attribute names of every item in the example cases, keyed by item id. */
    items: Type.Record(Type.String(), ItemInfoSchema),
  },
  { additionalProperties: false },
);

/** How the run was asked for: everything hashed into `configHash`, plus where it came from. */
export const RunInfoSchema = Type.Object(
  {
    /** The agent's name in tables and file names (the suite's label, else the agent name). */
    label: Type.String({ minLength: 1 }),
    suite: Type.Union([Type.String(), Type.Null()]),
    budget: Type.Union([Type.String(), Type.Null()]),
    /** sha256 of the canonical JSON of `config`: a rerun with the same hash is skipped (unless --force). */
    configHash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    config: Type.Object(
      {
        schemaVersion: Type.Integer(),
        envId: Type.String(),
        envConfig: Type.Record(Type.String(), Type.Unknown()),
        world: Type.Record(Type.String(), Type.Unknown()),
        /** A registered agent's name, or a plug-in module's path relative to where it was given (one spelling per file: `./mine.ts`). */
        agentSpec: Type.String(),
        /**
         * A plug-in agent's code: SHA-256 of its module and the local modules it imports
         * (agents/module-code.ts), so that editing them reruns its runs. Absent for registered agents
         * (their code is the package's, named by `code`).
         */
        agentCode: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
        agentConfig: Type.Record(Type.String(), Type.Unknown()),
        seed: Type.Integer(),
        split: Type.String(),
        episodes: Type.Integer({ minimum: 0, description: '0: every case of the split' }),
        batchSize: Type.Integer({ minimum: 1 }),
        trainEpochs: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
        ks: Type.Array(Type.Integer({ minimum: 1 })),
        examples: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const ResultFileSchema = Type.Object(
  {
    schemaVersion: Type.Literal(RESULT_SCHEMA_VERSION),
    env: Type.Object(
      {
        id: Type.String(),
        config: Type.Record(Type.String(), Type.Unknown()),
        world: Type.Record(Type.String(), Type.Unknown()),
        dataset: Type.Object(
          {
            name: Type.String(),
            source: Type.String(),
            hash: Type.String(),
            /** Interactions of the train split (what agents may train on). */
            trainInteractions: Type.Integer(),
            /** Interactions the learned simulators were built from (Dataset.meta.simulatorInteractions), and which (simulatorData). */
            simulatorInteractions: Type.Integer(),
            simulatorData: Type.String(),
          },
          { additionalProperties: false },
        ),
        simulator: Type.String(),
        evaluator: Type.Union([Type.String(), Type.Null()]),
      },
      { additionalProperties: false },
    ),
    agent: Type.Object(
      {
        name: Type.String(),
        spec: Type.String({ description: 'the --agent argument: a registered name or a module path' }),
        config: Type.Record(Type.String(), Type.Unknown()),
        usesSimulator: Type.Boolean(),
      },
      { additionalProperties: false },
    ),
    seed: Type.Integer(),
    split: Type.String(),
    episodes: Type.Integer({ minimum: 1 }),
    backend: Type.Object({ name: Type.String(), reason: Type.String() }, { additionalProperties: true }),
    code: Type.Object(
      {
        package: Type.String(),
        version: Type.String(),
        commit: Type.Union([Type.String(), Type.Null()]),
        /** In a checkout: tracked files differed from `commit` when the run started (absent in older files and installed packages). */
        modified: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false },
    ),
    metrics: MetricsSchema,
    evaluatorMetrics: Type.Union([EvaluatorMetricsSchema, Type.Null()]),
    extraEvaluatorMetrics: Type.Optional(
      Type.Array(ExtraEvaluatorMetricsSchema, {
        description: 'the evaluator metrics under each extra evaluator, in the order of the world option extraEvaluators; absent when it lists none',
      }),
    ),
    /** Metrics@K over candidate paths; null when the agent has no proposePaths or no K was asked. */
    atK: Type.Union([AtKSchema, Type.Null()]),
    cases: Type.Array(CaseResultSchema),
    examples: ExamplesSchema,
    /** Learning curves by name (e.g. `train`): points with a `step` and named scalars. */
    curves: Type.Record(Type.String(), Type.Array(CurvePointSchema)),
    run: RunInfoSchema,
    timings: Type.Object(
      {
        createdAt: Type.String(),
        trainSeconds: Type.Number({ minimum: 0 }),
        /** Wall seconds of named training phases (e.g. pretrain, rollout, update), summed over the run. */
        train: Type.Record(Type.String(), Type.Number({ minimum: 0 })),
        evalSeconds: Type.Number({ minimum: 0 }),
        atKSeconds: Type.Number({ minimum: 0 }),
        envStepsPerSecond: Type.Number({ minimum: 0 }),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: false },
);
export type ResultFile = Static<typeof ResultFileSchema>;
export type Metrics = Static<typeof MetricsSchema>;
export type CaseResult = Static<typeof CaseResultSchema>;
export type AtK = Static<typeof AtKSchema>;
export type AtKValues = Static<typeof AtKValuesSchema>;
export type AtKEvaluatorValues = Static<typeof AtKEvaluatorValuesSchema>;
export type EvaluatorMetrics = Static<typeof EvaluatorMetricsSchema>;
export type ExtraEvaluatorMetrics = Static<typeof ExtraEvaluatorMetricsSchema>;
export type Examples = Static<typeof ExamplesSchema>;
export type RunInfo = Static<typeof RunInfoSchema>;
export type RunConfig = RunInfo['config'];
