/**
 * The small neural toolkit the simulators (SASRec, GRU4Rec) and the policy are built on: named
 * parameters and their initialisers, layer norm, attention (whole windows and one query against a
 * cache), the GRU cell, a matrix product with plain-product gradients, and Adam/AdamW with exactly
 * restorable state.
 */
export { Adam, type AdamConfig, type AdamOptions, type AdamState, type Trainable } from './adam.ts';
export { attention, attentionWeights, queryKeyDots, type AttentionOptions } from './attention.ts';
export { glorotArray, glorotStd, normalArray } from './init.ts';
export { dropout, gruCell, layerNorm, mm, type DropoutSeeds, type LayerNormOptions } from './layers.ts';
export { assignParams, createParams, paramValues, ParamSet, type Params, type ParamSpec } from './params.ts';
