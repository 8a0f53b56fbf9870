/**
 * `trellis help flags`: one name for one thing across commands, the old spellings still
 * accepted, and every default port in one table (no two defaults of commands that run together
 * may share a port; main.test.ts checks the table has no port twice). Keep it in step with the
 * `default`s in the commands' flags.
 */

/** Default ports of every command, by flag. */
export const DEFAULT_PORTS: readonly { command: string; flag: string; port: number; what: string }[] = [
  { command: 'up', flag: '--gateway-port', port: 8080, what: "ingress gateway (or the manifest's port)" },
  { command: 'up', flag: '--base-port', port: 21000, what: 'first app and sidecar inbound port' },
  {
    command: 'up, control-plane',
    flag: '--xds-port / --xds-address',
    port: 15010,
    what: 'xDS and CA (gRPC)',
  },
  {
    command: 'up, control-plane',
    flag: '--http-port / --http-address',
    port: 15014,
    what: 'control plane HTTP API',
  },
  { command: 'proxy', flag: '--admin-port', port: 15000, what: 'proxy admin' },
  { command: 'proxy', flag: '--outbound-port', port: 15001, what: 'sidecar outbound' },
  { command: 'proxy', flag: '--inbound-port', port: 15006, what: 'sidecar inbound' },
  {
    command: 'ratelimit',
    flag: '--grpc-port / --grpc-address',
    port: 8081,
    what: 'rate limit service (gRPC)',
  },
  {
    command: 'ratelimit',
    flag: '--http-port / --http-address',
    port: 6070,
    what: 'rate limit /metrics /ready /config',
  },
];

export const FLAG_VOCABULARY = `Flags that mean the same thing have the same name in every command.

Endpoints: --X-address HOST:PORT, or --X-port N for 127.0.0.1:N (0: any free port)
  --xds-address / --xds-port      the control plane's xDS (and CA) endpoint: where control-plane
                                  and up listen, where proxy and agent connect   (old: --xds)
  --secure-port                   control-plane's xDS and CA over TLS (15012); --xds-root-ca FILE
                                  is the root a proxy verifies it with
  --http-address / --http-port    a process's HTTP endpoint (control plane API; ratelimit metrics)
  --grpc-address / --grpc-port    ratelimit's gRPC endpoint
  --ratelimit-address             where proxies reach the rate limit service (control-plane)
  --ca-address                    where a proxy or agent asks for its certificate (default:
                                  --xds-address)
  --gateway-port, --base-port, --admin-port, --outbound-port, --inbound-port   ports only
  A port is 0-65535; anything else is refused with the flag's name.

Other shared flags
  --control-plane URL             the control plane's HTTP API, for every client command (apply,
                                  delete, get, proxy-config, proxy-status, ratelimit); default
                                  $TRELLIS_CONTROL_PLANE or http://127.0.0.1:15014
  --config DIR                    the directory of Istio YAML (control-plane, up, token);
                                  ratelimit: its envoyproxy/ratelimit YAML
  --store etcd://H:P[,H:P] | dir://DIR   where control-plane's config and registrations live:
                                  etcd shared by replicas, or a directory (= --config DIR)
  --state-dir DIR                 the last good config, CA and credentials (control-plane, up, token)
  --mesh-config FILE              Istio's MeshConfig YAML (control-plane, up)
  --trust-domain, --workload-cert-ttl   identities (control-plane, up, token)
  --console-tokens FILE           who may log in to the console (control-plane, up)
  -n, --namespace NS              (delete, get, proxy, token)
  -o, --output FORMAT             table|json (get, proxy-config, proxy-status); token: a FILE
  -f, --filename PATH             files to read (apply, analyze)
  -h, --help                      this command's usage (also: trellis help COMMAND)

Default ports (none shared by commands that run together):
${DEFAULT_PORTS.map((p) => `  ${String(p.port).padEnd(6)} ${p.flag.padEnd(30)} ${p.command.padEnd(18)} ${p.what}`).join('\n')}

Old spellings keep working and print a one-line note on stderr. A port that is in use is
reported with the flag to change ("port 15010 is in use (another trellis up?); pass --xds-port 0
for any free port"). Exit status: 0 success, 1 failure, 2 bad usage.
`;
