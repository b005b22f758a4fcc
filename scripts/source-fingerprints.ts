// The source fingerprints (core/hash.ts `sourceFingerprint`) that the code takes, computed from the
// TypeScript sources: scripts/build.mjs stores them in the built package, so the package keys its
// caches as the sources it was compiled from do. Every module that calls `sourceFingerprint` is
// listed here and its fingerprint computed (test/code-identity.test.ts checks the list).
import { sourceFingerprintsComputed } from '../core/hash.ts';
import { pretrainCode } from '../agents/supervised.ts';
import { codeFingerprint } from '../data/cache.ts';

/** The modules whose fingerprints are computed below. */
export const FINGERPRINTED_MODULES = ['agents/supervised.ts', 'data/cache.ts'];

export function sourceFingerprints(): Record<string, string> {
  pretrainCode();
  codeFingerprint();
  return sourceFingerprintsComputed();
}
