/** The shape of a `trellis` subcommand. Each lives in ./commands/<name>.ts. */
export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface Command {
  name: string;
  /** One line for `trellis --help`. */
  summary: string;
  /** Full text for `trellis NAME --help`. */
  usage: string;
  /** Returns the exit code. Long-running commands resolve when they have stopped. */
  run(argv: string[], io: CommandIo): Promise<number>;
}

export const processIo: CommandIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
};
