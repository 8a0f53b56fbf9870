/** Which connected proxy a user means: the rules live with the control plane, which resolves names too (/v1/explain). */
export * from '../controlplane/proxy-names.js';
