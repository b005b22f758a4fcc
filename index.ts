/**
 * prorec-gym: a simulation gym and benchmark suite for proactive recommendation.
 *
 * The package root re-exports the three layers a user needs most; each also has its own entry
 * point:
 * - `prorec-gym/envs`: environments (`make`, `makeVec`, `register`, `checkEnv`), the gym core
 *   types, seeded randomness (`Rng`);
 * - `prorec-gym/agents`: the agent contract (`AgentFactory`, `Agent`) and the agent registry;
 * - `prorec-gym/harness`: suites, runs, result files, leaderboards;
 * - `prorec-gym/estimators`: the advantage estimators (REINFORCE, GRPO, SRC, PSAE, ProRL) as pure
 *   functions;
 * - `prorec-gym/schema`: the result-file schema (TypeBox) and its types;
 * - `prorec-gym/report`: the HTML report of a result folder.
 */
export * from './envs/index.ts';
export * from './agents/index.ts';
export * from './benchmarks/index.ts';
