/**
 * The result file: one per (environment, agent, seed), the contract that leaderboards, the
 * regression gate and reports build on. The schema is the single source of truth for its type.
 * Everything except `timings` is a deterministic function of the inputs (same seed and backend).
 */
import { Type, type Static } from '@sinclair/typebox';

export const RESULT_SCHEMA_VERSION = 1;

const Nullable = <T extends ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);

export const MetricsSchema = Type.Object(
  {
    ioi: Type.Number(),
    ior: Type.Number(),
    ctr: Type.Number(),
    coherence: Nullable(Type.Number()),
    length: Type.Number(),
    duplicateRate: Type.Number(),
    success: Type.Number(),
    return: Type.Number(),
    stopRate: Type.Number(),
  },
  { additionalProperties: false },
);

export const EvaluatorMetricsSchema = Type.Object(
  { ioi: Type.Number(), ior: Type.Number(), ctr: Type.Number(), success: Type.Number() },
  { additionalProperties: false },
);

export const CaseResultSchema = Type.Object(
  {
    caseIndex: Type.Integer({ minimum: 0 }),
    target: Type.Integer({ minimum: 0 }),
    path: Type.Array(Type.Integer({ minimum: 0 })),
    ioi: Type.Number(),
    ior: Type.Number(),
    ctr: Type.Number(),
    coherence: Nullable(Type.Number()),
    length: Type.Integer({ minimum: 0 }),
    success: Type.Boolean(),
    return: Type.Number(),
    stopped: Type.Boolean(),
    evaluator: Type.Union([EvaluatorMetricsSchema, Type.Null()]),
  },
  { additionalProperties: false },
);

export const CurvePointSchema = Type.Record(Type.String(), Type.Number());

export const ResultFileSchema = Type.Object(
  {
    schemaVersion: Type.Literal(RESULT_SCHEMA_VERSION),
    env: Type.Object(
      {
        id: Type.String(),
        config: Type.Record(Type.String(), Type.Unknown()),
        world: Type.Record(Type.String(), Type.Unknown()),
        dataset: Type.Object({ name: Type.String(), source: Type.String(), hash: Type.String(), trainInteractions: Type.Integer() }, { additionalProperties: false }),
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
    code: Type.Object({ package: Type.String(), version: Type.String(), commit: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false }),
    metrics: MetricsSchema,
    evaluatorMetrics: Type.Union([EvaluatorMetricsSchema, Type.Null()]),
    cases: Type.Array(CaseResultSchema),
    curves: Type.Record(Type.String(), Type.Array(CurvePointSchema)),
    timings: Type.Object(
      {
        createdAt: Type.String(),
        trainSeconds: Type.Number({ minimum: 0 }),
        evalSeconds: Type.Number({ minimum: 0 }),
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
