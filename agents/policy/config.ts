/** The policy network's configuration: its schema (defaults included) and its resolution. */
import { Type, type Static } from '@sinclair/typebox';
import { StringEnum, validate } from '../../core/validate.ts';

export const PolicyConfigSchema = Type.Object(
  {
    dim: Type.Integer({ minimum: 2, maximum: 1024, default: 64, description: 'embedding and hidden size' }),
    encoder: StringEnum(['attention', 'gru'] as const, {
      default: 'attention',
      description: 'sequence encoder: one causal self-attention block (target as a key) or a GRU',
    }),
    maxLength: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 10,
      description: 'longest path the step embeddings distinguish (L_max); longer paths share the last one',
    }),
    maskHistory: Type.Boolean({ default: true, description: "also forbid the history's items as actions" }),
    /**
     * Item representations (shared by history tokens, the target and the output layer):
     * E = E_free + F·P with F a fixed per-item content matrix and P a learned projection
     * [features × dim]. 'attributes': F = the item's attributes (multi-hot, unit norm);
     * 'semantic': one-hot of each of the three codebook digits of its semantic id (the release's
     * codes of text embeddings; derived by residual k-means elsewhere: data/semantic-ids.ts);
     * 'attributes+semantic': both; 'cooccurrence': collaborative factors of the train split's
     * sequences (PPMI of items consumed close together, factorised by SVD: agents/item-prior.ts);
     * 'attributes+cooccurrence': both; 'none': a free embedding only. With a prior, items that share
     * content (or users) share representation, so the target's representation can inform the path.
     */
    itemPrior: StringEnum(['none', 'attributes', 'semantic', 'attributes+semantic', 'cooccurrence', 'attributes+cooccurrence'] as const, {
      default: 'attributes+cooccurrence',
      description: 'fixed item content added to the free embeddings: attributes, semantic ids, co-occurrence factors, or none',
    }),
    cooccurrence: Type.Object(
      {
        rank: Type.Integer({ minimum: 1, maximum: 256, default: 32, description: 'factors per item (the rank of the truncated SVD)' }),
        window: Type.Integer({ minimum: 1, maximum: 50, default: 5, description: 'items at most this many positions apart in a sequence co-occur' }),
      },
      { additionalProperties: false, default: {}, description: "the co-occurrence factors (used by the 'cooccurrence' priors only)" },
    ),
  },
  { additionalProperties: false, default: {}, description: 'the policy network' },
);
export type PolicyConfig = Static<typeof PolicyConfigSchema>;

export function resolvePolicyConfig(partial: Partial<PolicyConfig> = {}, source = 'policy config'): PolicyConfig {
  return validate(PolicyConfigSchema, partial, source);
}
