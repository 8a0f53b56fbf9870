/**
 * The derivations every control plane runs, in order (derivation.ts). Order matters: a step sees
 * what the steps before it produced, so translations into Istio kinds come before steps that
 * patch Istio kinds.
 */
import type { ConfigDerivation } from './derivation.js';
import { gatewayApiDerivation } from './gateway-api/derivation.js';
import { trafficFilterDerivation } from './traffic-filter/derivation.js';

export function defaultDerivations(options: { domainSuffix?: string } = {}): ConfigDerivation[] {
  return [
    gatewayApiDerivation(options), // first: Gateway API resources become Istio Gateways and VirtualServices
    trafficFilterDerivation(options), // last: filters patch what the steps before produce
  ];
}
