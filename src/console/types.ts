/** The JSON the console reads, as the control plane's API answers it (a subset). */
export interface Endpoint {
  address: string;
  namespace: string;
  ports: Record<string, number>;
  labels: Record<string, string>;
  healthy: boolean;
  workloadName?: string;
}

export interface Service {
  hostname: string;
  namespace: string;
  ports: { name: string; number: number; protocol: string }[];
  location: string;
  source: string;
  endpoints: Endpoint[];
}

export interface ProxyStatus {
  proxy: string;
  type: string;
  namespace: string;
  workloadName: string;
  connectedAt: string;
  configRevision?: number;
  types: Record<string, { status: string; lastNack?: { message: string; at: string } }>;
}

export interface ConfigProblem {
  file?: string;
  doc?: number;
  path?: string;
  message: string;
  severity?: string;
  source?: { kind: string; namespace: string; name: string };
  derivation?: string;
  problems?: { path: string; message: string; severity: string }[];
}

export interface AuditRecord {
  at: string;
  user: string;
  role: string;
  action: string;
  resources: string[];
  outcome: string;
  revision?: number;
  problems?: string[];
}

export interface Session {
  user: string;
  role: 'viewer' | 'editor';
}
