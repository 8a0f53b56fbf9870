/**
 * The Gateway API kinds Trellis reads, in the versions Istio reads them. The API's `Gateway` is
 * stored as `KubernetesGateway` (Istio's internal name for it) beside Istio's own `Gateway`, and
 * written back as `Gateway` (KindDefinition.writtenKind).
 */
import type { KindDefinition } from '../kinds.js';
import { GATEWAY_API_GROUP, GATEWAY_API_KIND } from './types.js';
import {
  validateGatewayClass,
  validateKubernetesGateway,
  validateReferenceGrant,
} from './validate-gateway.js';
import {
  validateGRPCRoute,
  validateHTTPRoute,
  validateTCPRoute,
  validateTLSRoute,
} from './validate-routes.js';

const base = { group: GATEWAY_API_GROUP, namespaced: true } as const;

export const GATEWAY_API_KINDS: readonly KindDefinition[] = [
  {
    ...base,
    kind: GATEWAY_API_KIND.GatewayClass,
    namespaced: false,
    versions: ['v1', 'v1beta1'],
    validate: validateGatewayClass,
  },
  {
    ...base,
    kind: GATEWAY_API_KIND.Gateway,
    writtenKind: 'Gateway',
    versions: ['v1', 'v1beta1'],
    validate: validateKubernetesGateway,
  },
  { ...base, kind: GATEWAY_API_KIND.HTTPRoute, versions: ['v1', 'v1beta1'], validate: validateHTTPRoute },
  { ...base, kind: GATEWAY_API_KIND.GRPCRoute, versions: ['v1', 'v1alpha2'], validate: validateGRPCRoute },
  { ...base, kind: GATEWAY_API_KIND.TCPRoute, versions: ['v1alpha2'], validate: validateTCPRoute },
  {
    ...base,
    kind: GATEWAY_API_KIND.TLSRoute,
    versions: ['v1alpha2', 'v1alpha3'],
    validate: validateTLSRoute,
  },
  {
    ...base,
    kind: GATEWAY_API_KIND.ReferenceGrant,
    versions: ['v1beta1', 'v1alpha2'],
    validate: validateReferenceGrant,
  },
];
