/**
 * The item-level policy (agents/policy/): its config, batches of paths, item priors, the network,
 * the cached step-by-step view and decoding. Re-exported here so that importers of this module keep
 * working.
 */
export { PolicyConfigSchema, resolvePolicyConfig, type PolicyConfig } from './policy/config.ts';
export { nextTerms, packPaths, trainingTerms, type MaskOptions, type PathRecord, type Terms, type Trajectories } from './policy/batch.ts';
export { itemContentMatrix } from './policy/item-prior.ts';
export { PolicyNetwork, type PolicyNetworkOptions } from './policy/network.ts';
export { IncrementalPolicy } from './policy/incremental.ts';
export * from './policy/decoding.ts';
