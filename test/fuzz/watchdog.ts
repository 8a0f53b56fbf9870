/**
 * A proxy that spins (a synchronous loop on hostile input) blocks this process's event loop:
 * no timer, no bounded wait and no test timeout fires again. A worker thread watches a heartbeat
 * the main thread bumps; when it stops, the worker names the case and kills the process, so CI
 * fails at once instead of hanging until the job's own limit.
 */
import { Worker } from 'node:worker_threads';

const WATCHER = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const s = new Int32Array(workerData.shared);
let last = -1;
let since = Date.now();
setInterval(() => {
  const beat = Atomics.load(s, 0);
  if (beat !== last) { last = beat; since = Date.now(); return; }
  if (Date.now() - since < workerData.stallMs) return;
  const msg = 'codec fuzz: event loop blocked for ' + workerData.stallMs + ' ms during case number ' +
    Atomics.load(s, 1) + ' (' + workerData.label + '): the proxy is spinning; killing the test process\\n';
  // Straight to the descriptors: the main thread, which relays a worker's stdio, is stuck.
  fs.writeSync(2, msg);
  fs.writeSync(1, '# ' + msg);
  process.kill(process.pid, 'SIGKILL');
}, 250);
`;

export class Watchdog {
  private readonly shared = new SharedArrayBuffer(8);
  private readonly cells = new Int32Array(this.shared);
  private readonly worker: Worker;
  private readonly beat: NodeJS.Timeout;

  constructor(label: string, stallMs = 10_000) {
    this.worker = new Worker(WATCHER, { eval: true, workerData: { shared: this.shared, stallMs, label } });
    this.worker.unref();
    this.beat = setInterval(() => Atomics.add(this.cells, 0, 1), 100);
    this.beat.unref();
  }

  /** The case running now, for the message if it never finishes. */
  set caseNumber(n: number) {
    Atomics.store(this.cells, 1, n);
  }

  async stop(): Promise<void> {
    clearInterval(this.beat);
    await this.worker.terminate();
  }
}
