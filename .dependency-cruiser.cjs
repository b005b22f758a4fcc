/**
 * The layers of prorec-gym, checked in CI (`npm run lint:layers`). Each folder owns one concern and
 * may import only the folders below it:
 *
 *   core         the gym API, seeded randomness, validation, hashing, files, progress
 *   compute      the tensor backend and its kernels                          -> core
 *   data         the Dataset, the dataset readers, the synthetic world       -> core
 *   simulators   the user-simulator contract, the exact and learned ones    -> data, compute, core
 *   envs         the proactive environment, its registry and checker        -> simulators, data, compute, core
 *   agents       agents, policies, trainers, advantage estimators            -> envs and below
 *   results      result files: schema, metrics, statistics, leaderboards    -> core
 *   benchmarks   the harness, suites, CLI, gate, perf                        -> agents, results and below
 *   reports      the HTML report, from result files only                    -> results, core
 *   bin          the command line                                            -> anything
 */
const below = {
  core: [],
  compute: ['core'],
  data: ['core'],
  simulators: ['data', 'compute', 'core'],
  envs: ['simulators', 'data', 'compute', 'core'],
  agents: ['envs', 'simulators', 'data', 'compute', 'core'],
  results: ['core'],
  benchmarks: ['agents', 'envs', 'simulators', 'data', 'compute', 'core', 'results'],
  reports: ['results', 'core'],
};

module.exports = {
  forbidden: [
    ...Object.entries(below).map(([layer, allowed]) => ({
      name: `layer-${layer}`,
      comment: `${layer}/ may import only ${allowed.length ? allowed.map((a) => `${a}/`).join(', ') : 'nothing of the project'} (see .dependency-cruiser.cjs)`,
      severity: 'error',
      from: { path: `^${layer}/` },
      to: { path: '^(core|compute|data|simulators|envs|agents|results|benchmarks|reports|bin)/', pathNot: `^(${[layer, ...allowed].join('|')})/` },
    })),
    { name: 'no-circular', comment: 'no import cycles between modules', severity: 'error', from: {}, to: { circular: true } },
    { name: 'not-to-test', comment: 'production code does not import tests', severity: 'error', from: { pathNot: '^test/' }, to: { path: '^test/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|docs)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.mjs', '.js'] },
  },
};
