/**
 * Public API of the agents layer (`prorec-gym/agents`): the contract every agent implements
 * (agents/agent.ts) and the registry of agents by name. Built-in agents are registered on import;
 * `resolveAgent('random')` returns one, `resolveAgent('./my-agent.ts')` loads a plug-in module.
 */
export {
  actContext,
  requireSimulator,
  type ActContext,
  type Agent,
  type AgentEnvView,
  type AgentCreateContext,
  type AgentFactory,
  type SimulatorAccess,
  type TrainBudget,
  type TrainCallbacks,
  withDefaults,
} from './agent.ts';
/** TypeBox, the schema builder agent configs are declared with (`configSchema`), and its static type. */
export { Type, type Static, type TSchema } from '@sinclair/typebox';
export { listAgents, registerAgent, resolveAgent, UnknownAgentError } from './registry.ts';
/**
 * The RL trainer as a factory for any advantage estimator: a plug-in module's
 * `export default rlAgentFactory(defineEstimator({ name, description, needs, advantages }))` trains
 * it on the same policy, pre-training, config and budget as the built-in estimators.
 */
export { rlAgentFactory } from './rl-agent-factory.ts';
export { defineEstimator, type EstimatorDefinition, type EstimatorOptions, type Advantages, type Rollout } from './estimators.ts';
