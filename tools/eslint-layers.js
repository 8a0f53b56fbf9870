// ESLint rule enforcing the import directions of ARCHITECTURE.md: a module in src/<layer>
// may import only from the layers listed for it. Relative imports are resolved against the
// importing file, so the rule sees which layer a path really lands in.
import path from 'node:path';

export const LAYERS = {
  core: [],
  protocol: ['core'],
  api: ['core'],
  config: ['core', 'api'],
  registry: ['core', 'api'],
  controllers: ['core', 'api', 'config', 'registry'],
  // xds reads what controllers derive (ARCHITECTURE.md: controllers produce derived resources and
  // the push context reads them), e.g. compiled RateLimits; controllers never import xds.
  xds: ['core', 'api', 'config', 'registry', 'controllers', 'protocol'],
  ca: ['core'],
  // The workload agent for Envoy and proxyless gRPC (`trellis agent`): SDS over a Unix socket,
  // PEM files and bootstraps. It declares the certificate source it needs (agent/certificate-source.ts);
  // cli hands it the proxy's CA client, so the agent never imports the data plane.
  agent: ['core', 'protocol', 'ca'],
  // The control plane process: wires stores, registry, translation and the ADS server, and
  // serves the HTTP API. Only cli assembles processes above it.
  controlplane: ['core', 'api', 'config', 'registry', 'controllers', 'xds', 'protocol', 'ca'],
  // The proxy is its own workload agent: it makes its key and CSR with ca/workload.ts (the CA's
  // client half, which needs only core) and never sees the CA's keys.
  proxy: ['core', 'protocol', 'ca'],
  ratelimit: ['core', 'protocol'],
  cli: '*',
  // The web console: browser code bundled by esbuild, talking to the control plane only over
  // HTTP. It may import types (and only types: test/architecture/console-layer.test.ts) from the
  // control plane, such as the service graph's JSON (controlplane/graph/types.ts).
  console: ['controlplane'],
};

function layerOf(file, srcRoot) {
  const rel = path.relative(srcRoot, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return rel.split(path.sep)[0];
}

export const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'enforce the layer import directions of ARCHITECTURE.md' },
    schema: [],
    messages: {
      forbidden: "layer '{{from}}' may not import from '{{to}}' (allowed: {{allowed}})",
      unknown: "file is in unknown layer '{{from}}': add it to tools/eslint-layers.js",
    },
  },
  create(context) {
    const file = context.filename;
    const srcRoot = path.resolve(context.cwd, 'src');
    const from = layerOf(file, srcRoot);
    if (from === undefined) return {};
    if (!(from in LAYERS)) {
      return {
        Program(node) {
          context.report({ node, messageId: 'unknown', data: { from } });
        },
      };
    }
    const allowed = LAYERS[from];
    function check(node, source) {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = layerOf(path.resolve(path.dirname(file), source), srcRoot);
      if (target === undefined || target === from || allowed === '*') return;
      if (!allowed.includes(target)) {
        context.report({
          node,
          messageId: 'forbidden',
          data: { from, to: target, allowed: allowed.length ? allowed.join(', ') : 'none' },
        });
      }
    }
    return {
      ImportDeclaration(node) {
        check(node, node.source.value);
      },
      ExportNamedDeclaration(node) {
        if (node.source) check(node, node.source.value);
      },
      ExportAllDeclaration(node) {
        check(node, node.source.value);
      },
      ImportExpression(node) {
        if (node.source.type === 'Literal') check(node, node.source.value);
      },
    };
  },
};
