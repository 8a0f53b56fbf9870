/**
 * The derivations every control plane runs, in order (derivation.ts). Order matters: a step sees
 * what the steps before it produced, so translations into Istio kinds come before steps that
 * patch Istio kinds.
 */
import type { ConfigDerivation } from './derivation.js';
import { trafficFilterDerivation } from './traffic-filter/derivation.js';

export function defaultDerivations(): ConfigDerivation[] {
  return [
    trafficFilterDerivation(), // last: filters patch what the steps before produce
  ];
}
