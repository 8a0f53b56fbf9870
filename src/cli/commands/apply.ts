import path from 'node:path';
import { TrellisError, formatProblem, type Problem } from '../../core/errors.js';
import { parseAndValidate, type ParsedDocument } from '../../api/parse.js';
import { resourceKey, type Resource } from '../../api/resource.js';
import { manifestOf } from '../../api/validate.js';
import { isUnreadable, readConfigFiles } from '../../config/config-files.js';
import type { Command, CommandIo } from '../command.js';
import { parseFlags } from '../args.js';
import {
  configRequest,
  expectOk,
  qualifiedName,
  type ApiErrorBody,
  type ApplyResponse,
} from '../config-client.js';
import { controlPlaneUrl } from '../http-client.js';
import { parseTimeout, reportWait, waitForConvergence } from './wait.js';

const USAGE = `Usage: trellis apply -f FILE|DIR|- [-f ...] [--wait [--timeout 30s]] [--control-plane URL]

Validates Istio/Trellis resources and stores them in the control plane, which pushes them to
the proxies. All resources are applied, or none: an invalid file is reported as
'trellis analyze' reports it, one line per problem, and nothing is sent:

  FILE:DOC: PATH: MESSAGE            an error (DOC is the 1-based YAML document)
  FILE:DOC: warning: PATH: MESSAGE   a warning (the resource is still applied)

A control plane running on a config directory keeps applied resources as files under
DIR/applied/, so they survive restarts; a resource defined in one of your own files there is
not overwritten (edit that file instead). 'trellis delete KIND NAME' removes applied ones.

  -f, --filename PATH     a YAML/JSON file, a directory (read recursively), or - for stdin
  --wait                  then wait until the change is in effect on every proxy (as
                          'trellis wait' does); exit 1 at the timeout naming the proxies that lag
  --timeout DURATION      how long --wait waits (default 30s)
  --control-plane URL     the control plane's HTTP API (default $TRELLIS_CONTROL_PLANE or
                          http://127.0.0.1:15014)

Exit status: 0 applied (and, with --wait, in effect), 1 invalid input, rejected by the control
plane or not in effect at the timeout, 2 bad usage.`;

interface Origin {
  shown: string;
  doc: number;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Every document of every named file, parsed and validated as `trellis analyze` does. */
async function load(args: string[], io: CommandIo): Promise<{ shown: string; docs: ParsedDocument[] }[]> {
  const out: { shown: string; docs: ParsedDocument[] }[] = [];
  for (const arg of args) {
    if (arg === '-') {
      out.push({ shown: '<stdin>', docs: parseAndValidate(await readStdin(), '<stdin>') });
      continue;
    }
    const abs = path.resolve(io.cwd, arg);
    // The files the control plane's directory store would load from it (config/config-files.ts).
    for (const entry of await readConfigFiles(abs)) {
      const shown = entry.file === abs ? arg : path.join(arg, path.relative(abs, entry.file));
      if (isUnreadable(entry)) {
        // All or nothing: a file that cannot be read stops the whole apply.
        throw new TrellisError(
          entry.message === 'no such file or directory' ? 'TRELLIS_NOT_FOUND' : 'TRELLIS_IO',
          `${shown}: ${entry.message}`,
        );
      }
      out.push({ shown, docs: parseAndValidate(entry.text, shown) });
    }
  }
  return out;
}

function problemLine(where: string, p: Problem): string {
  return p.severity === 'error'
    ? `${where}: ${formatProblem(p)}\n`
    : `${where}: warning: ${formatProblem(p)}\n`;
}

export const command: Command = {
  name: 'apply',
  summary: 'Validate resources from files and store them in the control plane (all or nothing).',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('apply', argv, {
      filename: { type: 'string', short: 'f', multiple: true },
      'control-plane': { type: 'string' },
      wait: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '30s' },
    });
    const files = [...(values.filename ?? []), ...positionals];
    const timeoutMs = values.wait ? parseTimeout(values.timeout) : 0;
    if (files.length === 0) {
      throw new TrellisError('TRELLIS_INVALID_ARGUMENT', "expected -f FILE; run 'trellis apply --help'");
    }

    let errors = 0;
    let warnings = 0;
    const resources: Resource[] = [];
    const origins: Origin[] = [];
    const seen = new Map<string, string>();
    for (const { shown, docs } of await load(files, io)) {
      for (const d of docs) {
        const where = `${shown}:${d.source.doc}`;
        for (const p of d.problems) {
          if (p.severity === 'error') errors++;
          else warnings++;
          io.stderr(problemLine(where, p));
        }
        if (d.ref !== undefined) {
          const key = resourceKey(d.ref.kind, d.ref.namespace, d.ref.name);
          const first = seen.get(key);
          if (first !== undefined) {
            errors++;
            io.stderr(
              `${where}: metadata.name: ${d.ref.kind} ${d.ref.namespace}/${d.ref.name} is already defined at ${first}\n`,
            );
          } else seen.set(key, where);
        }
        if (d.resource) {
          resources.push(d.resource);
          origins.push({ shown, doc: d.source.doc });
        }
      }
    }
    if (errors > 0) {
      io.stderr(`Error: ${errors} error(s), ${warnings} warning(s); nothing was applied\n`);
      return 1;
    }
    if (resources.length === 0) {
      throw new TrellisError(
        'TRELLIS_INVALID_CONFIG',
        `no Istio or Trellis resources in ${files.join(', ')}`,
      );
    }

    const base = controlPlaneUrl(values['control-plane'], io.env);
    // As written (a Secret's data beside its metadata), so the control plane reads it like a file.
    const res = await configRequest(base, 'POST', '/v1/config', resources.map(manifestOf));
    // The control plane validates again (it may be a newer or older version than this CLI):
    // its problems point at array positions, mapped back to the files here.
    const where = (doc: number) => {
      const o = origins[doc - 1];
      return o ? `${o.shown}:${o.doc}` : `<request>:${doc}`;
    };
    const problems = (res.json as ApiErrorBody | undefined)?.error?.problems;
    if (res.status === 400 && problems) {
      for (const p of problems) io.stderr(problemLine(where(p.doc), p));
      io.stderr(`Error: the control plane rejected ${problems.length} problem(s); nothing was applied\n`);
      return 1;
    }
    const applied = expectOk<ApplyResponse>(res, 'apply');
    for (const r of applied.results) {
      const apiVersion = applied.items.find(
        (i) => i.kind === r.kind && i.metadata.namespace === r.namespace && i.metadata.name === r.name,
      )?.apiVersion;
      io.stdout(`${qualifiedName({ apiVersion, kind: r.kind, name: r.name })} ${r.outcome}\n`);
    }
    if (!values.wait) return 0;
    const what = applied.results.length === 1 ? 'the change' : `the ${applied.results.length} changes`;
    return reportWait(io, what, values.timeout, await waitForConvergence(base, applied.revision, timeoutMs));
  },
};
