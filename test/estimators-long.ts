/**
 * The exact estimator properties of estimators-exact.test.ts with many more generated cases:
 * `npm run test:props-long`. FC_SCALE (default here 10) multiplies each property's number of
 * runs; FC_RUNS, if set, fixes it for every property; a fresh seed each run unless FC_SEED is set
 * (FC_SEED / FC_PATH replay a failure).
 */
process.env.FC_SCALE ??= '10';
process.env.FC_SEED ??= 'random';
await import('./estimators-exact.test.ts');
