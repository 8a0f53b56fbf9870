/**
 * The codes `trellis analyze` reports, with istioctl's numbers and levels where Istio has the
 * same analyzer (pkg/config/analysis/msg/messages.yaml), and a line each on what the message
 * means and how to fix it. TRL codes are Trellis's own, for differences from Istio.
 */
export type Level = 'Error' | 'Warning' | 'Info';

export interface MessageType {
  readonly code: string;
  readonly name: string;
  readonly level: Level;
  /** What it means and how to fix it. */
  readonly doc: string;
}

function type(code: string, name: string, level: Level, doc: string): MessageType {
  return { code, name, level, doc };
}

export const MESSAGES = {
  ReferencedResourceNotFound: type(
    'IST0101',
    'ReferencedResourceNotFound',
    'Error',
    'a resource names a subset, gateway, host or workload that does not exist, so the traffic it routes fails (503 NC, 404 NR) or the resource applies to nothing; define what it names, or fix the name',
  ),
  ConflictingMeshGatewayVirtualServiceHosts: type(
    'IST0109',
    'ConflictingMeshGatewayVirtualServiceHosts',
    'Error',
    'several VirtualServices for the mesh (no gateways, or "mesh") define the same host: only one of them routes it; merge them into one VirtualService',
  ),
  MTLSPolicyConflict: type(
    'IST0113',
    'MTLSPolicyConflict',
    'Warning',
    'a DestinationRule sends plaintext or one-way TLS to workloads a PeerAuthentication makes STRICT, so calls are refused; use ISTIO_MUTUAL or drop the tls block',
  ),
  NoMatchingWorkloadsFound: type(
    'IST0127',
    'NoMatchingWorkloadsFound',
    'Warning',
    "a policy's selector matches no workload in its namespace, so it has no effect; fix the labels or the namespace",
  ),
  DestinationRuleSubsetNotSelectPods: type(
    'IST0173',
    'DestinationRuleSubsetNotSelectPods',
    'Error',
    "a subset's labels select no workload of its host, so traffic routed to it fails with 503 UH; fix the labels (compare the workloads' labels)",
  ),
  UnknownDestinationRuleHost: type(
    'IST0174',
    'UnknownDestinationRuleHost',
    'Warning',
    "a DestinationRule's host matches no service in the mesh, so it applies to nothing; fix the host (short names are in the rule's namespace)",
  ),
  ConflictingDestinationRules: type(
    'TRL0101',
    'ConflictingDestinationRules',
    'Warning',
    'several DestinationRules in one namespace are for the same host and workloads: Trellis applies only the first (Istio merges them, keeping the first definition of each subset); merge them into one rule',
  ),
  AlternativeDefinitions: type(
    'TRL0102',
    'AlternativeDefinitions',
    'Warning',
    'several files define the same resource: a control plane loading them all would reject the later file, so they are alternatives (scenarios); keep one, or analyze them one at a time with --each',
  ),
} as const satisfies Record<string, MessageType>;

/** `[IST0101] ...`: the code first, as istioctl prints it. */
export function coded(t: MessageType, text: string): string {
  return `[${t.code}] ${text}`;
}

/** The message type a coded message carries, from its `[CODE]` prefix. */
export function typeOf(message: string): MessageType | undefined {
  const code = /^\[([A-Z]+\d+)\]/.exec(message)?.[1];
  return Object.values(MESSAGES).find((m) => m.code === code);
}
