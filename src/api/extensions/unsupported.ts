/**
 * extensions.istio.io: a recognised group whose kinds the Trellis proxy cannot run. Each
 * document of these kinds is an error naming the kind, never skipped with a warning: a mesh
 * whose filters silently vanish is worse than one that refuses to load them.
 */
export const EXTENSIONS_GROUP = 'extensions.istio.io';

const REFUSED: Readonly<Record<string, string>> = {
  WasmPlugin:
    'WasmPlugin is not supported by the Trellis proxy (it runs no WebAssembly); remove this document, or express the filter with the built-in features (VirtualService headers, RateLimit, AuthorizationPolicy)',
};

/** The error for a kind Trellis refuses on purpose, or undefined. */
export function refusedKindMessage(group: string, kind: string): string | undefined {
  return group === EXTENSIONS_GROUP ? REFUSED[kind] : undefined;
}
