/** Resolves with the name of the first SIGINT/SIGTERM, so commands can shut down cleanly. */
export function untilSignal(signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handler = (sig: NodeJS.Signals) => {
      for (const s of signals) process.off(s, handler);
      resolve(sig);
    };
    for (const s of signals) process.on(s, handler);
  });
}
