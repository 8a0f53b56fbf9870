/**
 * Bounds on the cost of CEL expressions taken from config (Telemetry access-log filters and
 * metric dimensions) and evaluated on the request path. Envoy's CEL builder disables
 * comprehensions for this reason: `l.all(a, l.all(b, ...))` costs the product of the list sizes
 * per request, and nesting multiplies it. Here an expression is parsed with the library's
 * structural limits (AST size, depth, literal sizes) and refused when it uses a comprehension
 * macro. Both the API validation and the proxy's xDS conversion use this one check, so what is
 * accepted at apply is what a proxy accepts.
 */
import { Environment, type ASTNode, type ParseResult } from '@marcbachmann/cel-js';

/** Structural limits, checked while parsing: generous for filters, small for attacks. */
export const CEL_LIMITS = {
  maxAstNodes: 400,
  maxDepth: 32,
  maxListElements: 64,
  maxMapEntries: 64,
  maxCallArguments: 8,
} as const;

const LIMITS_TEXT = Object.entries(CEL_LIMITS)
  .map(([k, v]) => `${k} ${v}`)
  .join(', ');

/** Comprehension macros: each runs its body once per element of a list or map. */
const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

// The library's global parse() with limits: undeclared variables are dynamic.
const env = new Environment({ unlistedVariablesAreDyn: true, limits: CEL_LIMITS });

function isNode(v: unknown): v is ASTNode {
  return typeof v === 'object' && v !== null && 'op' in v && 'args' in v;
}

function* children(n: ASTNode): Generator<ASTNode> {
  const stack: unknown[] = [n.args];
  while (stack.length > 0) {
    const v = stack.pop();
    if (isNode(v)) yield v;
    else if (Array.isArray(v)) stack.push(...(v as unknown[]));
  }
}

/** The first comprehension in `ast`, as a refusal reason; undefined when there is none. */
function comprehensionIn(ast: ASTNode): string | undefined {
  const stack: ASTNode[] = [ast];
  while (stack.length > 0) {
    const n = stack.pop() as ASTNode;
    if (n.op === 'rcall' || n.op === 'call') {
      const name = (n.args as unknown[])[0];
      if (typeof name === 'string' && COMPREHENSIONS.has(name))
        return `the comprehension ${name}() is not allowed: it runs once per element on every request and nests to any cost (Envoy disables comprehensions too); test a value with ==, in, has(), startsWith() or matches() instead`;
    }
    stack.push(...children(n));
  }
  return undefined;
}

/** The error a refused expression throws; `reason` is one line. */
export class CelRefused extends Error {
  /** `syntax`: not CEL; `cost`: CEL, but too large or with a comprehension. */
  constructor(
    readonly reason: string,
    readonly kind: 'syntax' | 'cost',
  ) {
    super(reason);
    this.name = 'CelRefused';
  }
}

/**
 * Parses `expression` as config-supplied CEL: throws CelRefused with a one-line reason when it
 * does not parse, exceeds the structural limits or uses a comprehension.
 */
export function compileConfigCel(expression: string): ParseResult {
  let program: ParseResult;
  try {
    program = env.parse(expression);
  } catch (err) {
    const text = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
    // The library's limit errors say only "Exceeded maxDepth (32)".
    throw new CelRefused(
      text.startsWith('Exceeded ')
        ? `${text}: CEL from config is limited in size and nesting (${LIMITS_TEXT}) as it runs on every request; split or simplify the expression`
        : text,
      text.startsWith('Exceeded ') ? 'cost' : 'syntax',
    );
  }
  const refused = comprehensionIn(program.ast);
  if (refused !== undefined) throw new CelRefused(refused, 'cost');
  return program;
}

/** Why `expression` is refused as config-supplied CEL, or undefined when it is accepted. */
export function configCelRefusal(expression: string): string | undefined {
  try {
    compileConfigCel(expression);
    return undefined;
  } catch (err) {
    return (err as CelRefused).reason;
  }
}
