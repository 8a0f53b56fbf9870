// Module hook for the mutation worker: test files that import `node:test` get the shim
// instead (the shim itself still reaches the real module for `mock`).
const SHIM = new URL('./node-test-shim.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier === 'node:test' && context.parentURL !== SHIM) return { url: SHIM, shortCircuit: true };
  return next(specifier, context);
}
