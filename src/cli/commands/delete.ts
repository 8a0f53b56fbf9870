import { TrellisError } from '../../core/errors.js';
import type { Resource } from '../../api/resource.js';
import type { Command } from '../command.js';
import { parseFlags } from '../args.js';
import { configRequest, expectOk, qualifiedName } from '../config-client.js';
import { controlPlaneUrl } from '../http-client.js';

const USAGE = `Usage: trellis delete KIND NAME... [-n NAMESPACE] [--control-plane URL]

Deletes resources that were added with 'trellis apply'. A resource defined in a file of the
control plane's config directory is not deleted: the error names the file to edit instead.

KIND is a kind, its plural or Istio's short name (vs, dr, gw, se, we).

  -n, --namespace NS      the namespace (default: default)
  --control-plane URL     the control plane's HTTP API (default $TRELLIS_CONTROL_PLANE or
                          http://127.0.0.1:15014)

Example:
  trellis delete vs reviews`;

export const command: Command = {
  name: 'delete',
  summary: "Delete resources added with 'trellis apply'.",
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('delete', argv, {
      namespace: { type: 'string', short: 'n', default: 'default' },
      'control-plane': { type: 'string' },
    });
    const [kind, ...names] = positionals;
    if (kind === undefined || names.length === 0) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        "expected KIND NAME...; run 'trellis delete --help'",
      );
    }
    const base = controlPlaneUrl(values['control-plane'], io.env);
    let failed = 0;
    for (const name of names) {
      const path = `/v1/config/${encodeURIComponent(kind)}/${encodeURIComponent(values.namespace)}/${encodeURIComponent(name)}`;
      const r = await configRequest(base, 'DELETE', path);
      try {
        const { deleted } = expectOk<{ deleted: Resource }>(r, `delete ${kind} ${name}`);
        const q = qualifiedName({ apiVersion: deleted.apiVersion, kind: deleted.kind, name });
        io.stdout(`${q.replace(/\/[^/]*$/, '')} "${name}" deleted\n`);
      } catch (err) {
        // An unknown kind is wrong for every name: stop at once with usage's exit code.
        if (err instanceof TrellisError && err.code === 'TRELLIS_INVALID_ARGUMENT') throw err;
        io.stderr(`trellis delete: ${err instanceof Error ? err.message : String(err)}\n`);
        failed++;
      }
    }
    return failed ? 1 : 0;
  },
};
