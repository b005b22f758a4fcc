/**
 * The RL trainer as an agent factory for any advantage estimator, as the public API exports it
 * (`prorec-gym/agents`). A plug-in module's
 *
 *     export default rlAgentFactory(defineEstimator({ name, description, needs, advantages }));
 *
 * trains its estimator on the same policy, pre-training, config schema and budget as the built-in
 * estimators (agents/rl.ts). This file exists so that the public declarations stay free of the
 * tensor library's types: its signature names only the agent contract and the estimator types.
 */
import type { AgentFactory } from './agent.ts';
import type { EstimatorDefinition } from './estimators.ts';
import { rlAgentFactory as rlTrainerFactory } from './rl.ts';

/**
 * The RL agent factory of `estimator`: a built-in's name (`reinforce`, `grpo`, `prorl`, ...) or a
 * definition (`defineEstimator`). The agent's name and description are the estimator's; its config
 * is the built-in RL agents' (`bench --agent prorl --config-help`). Errors: ContractError for an
 * unknown built-in name or a malformed definition.
 */
export function rlAgentFactory(estimator: string | EstimatorDefinition): AgentFactory {
  return rlTrainerFactory(estimator) as unknown as AgentFactory;
}
