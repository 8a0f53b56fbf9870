/**
 * Test harness for child-processes.test.ts: supervises one long-running app with dieWithParent,
 * prints `app pid N` once it runs, then waits to be killed (the test sends SIGKILL).
 */
import { systemClock } from '../../../core/clock.js';
import { seededRandom } from '../../../core/random.js';
import { ProcessSupervisor } from '../supervisor.js';

const supervisor = new ProcessSupervisor({
  name: 'app',
  command: [process.execPath, '-e', 'setInterval(() => undefined, 1000)'],
  cwd: process.cwd(),
  env: process.env,
  prefix: 'app | ',
  write: (text) => void process.stderr.write(text),
  clock: systemClock,
  random: seededRandom(1),
  dieWithParent: process.argv[2] !== 'without',
  onSpawn: (pid) => void process.stdout.write(`app pid ${pid}\n`),
});
supervisor.start();
setInterval(() => undefined, 1000);
