import { TrellisError } from '../../core/errors.js';
import type { Command } from '../command.js';
import { parseFlags } from '../args.js';
import { connectedProxies } from '../connected-proxies.js';
import { controlPlaneUrl } from '../http-client.js';
import { shortName } from '../proxy-names.js';

const USAGE = `Usage: trellis completion bash|zsh

Prints a shell script that completes trellis commands, their flags, proxy-config types, resource
kinds, and the names of connected proxies (asked of the control plane as you type, from
$TRELLIS_CONTROL_PLANE or http://127.0.0.1:15014).

  bash:  source <(trellis completion bash)        (or add that line to ~/.bashrc)
  zsh:   source <(trellis completion zsh)         (or add that line to ~/.zshrc)

'trellis completion --proxies' prints the names it completes proxies with.`;

/**
 * Every command with the words after it that are not flags. Kept here rather than read from
 * main.ts (which loads this module); completion.test.ts checks it against 'trellis --help'.
 */
export const COMPLETION_COMMANDS: Record<string, { words?: readonly string[]; proxies?: boolean }> = {
  agent: {},
  analyze: {},
  apply: {},
  check: {},
  completion: { words: ['bash', 'zsh'] },
  'control-plane': {},
  delete: {},
  describe: { words: ['workload', 'service'], proxies: true },
  explain: {},
  get: {
    words: [
      'services',
      'workloads',
      'endpoints',
      'virtualservices',
      'destinationrules',
      'gateways',
      'serviceentries',
      'workloadentries',
      'sidecars',
      'peerauthentications',
      'authorizationpolicies',
      'requestauthentications',
      'ratelimits',
      'trafficfilters',
      'telemetries',
      'routers',
      'httproutes',
      'proxyconfigs',
    ],
  },
  graph: {},
  proxy: {},
  'proxy-config': {
    words: ['clusters', 'listeners', 'routes', 'endpoints', 'secret', 'all', 'log'],
    proxies: true,
  },
  'proxy-status': { proxies: true },
  ratelimit: {},
  stat: { proxies: true },
  tap: { proxies: true },
  token: {},
  top: {},
  up: {},
  version: {},
  wait: {},
};

/** The flags a command's usage text names (`--fqdn`, `-o`), for completion. */
export function flagsOf(usage: string): string[] {
  const out = new Set<string>(['--help']);
  for (const m of usage.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])/g)) out.add(m[1] ?? '');
  return [...out].sort();
}

const shellWord = (w: string): string => w.replace(/[^A-Za-z0-9_./:=-]/g, '');

export async function completionScript(shell: 'bash' | 'zsh'): Promise<string> {
  const cases: string[] = [];
  for (const [name, spec] of Object.entries(COMPLETION_COMMANDS)) {
    const mod = (await import(`./${name}.js`)) as { command: Command };
    const flags = flagsOf(mod.command.usage).map(shellWord).join(' ');
    cases.push(
      `    ${name}) words="${(spec.words ?? []).join(' ')}"; flags="${flags}"; proxies=${spec.proxies ? 1 : 0} ;;`,
    );
  }
  const body = `# trellis ${shell} completion: source <(trellis completion ${shell})
_trellis() {
  local cur cmd words flags proxies
  cur="\${COMP_WORDS[COMP_CWORD]}"
  cmd="\${COMP_WORDS[1]}"
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=( $(compgen -W "${Object.keys(COMPLETION_COMMANDS).join(' ')} help --help --version" -- "$cur") )
    return
  fi
  words=""; flags="--help"; proxies=0
  case "$cmd" in
${cases.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
    return
  fi
  if [[ $proxies -eq 1 ]]; then
    words="$words $(trellis completion --proxies 2>/dev/null)"
  fi
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
`;
  return shell === 'bash'
    ? `${body}complete -F _trellis trellis\n`
    : `autoload -U +X bashcompinit && bashcompinit\n${body}complete -F _trellis trellis\n`;
}

export const command: Command = {
  name: 'completion',
  summary: 'Print a bash or zsh completion script (commands, flags, proxy names).',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('completion', argv, {
      proxies: { type: 'boolean', default: false },
      'control-plane': { type: 'string' },
    });
    if (values.proxies) {
      // Called by the script on every TAB: quiet and quick, nothing when the mesh is down.
      try {
        const proxies = await connectedProxies(controlPlaneUrl(values['control-plane'], io.env));
        const names = new Set<string>();
        for (const p of proxies) {
          const short = shortName(p);
          names.add(short.slice(0, short.lastIndexOf('.')));
          names.add(short);
        }
        io.stdout([...names].sort().join('\n') + (names.size ? '\n' : ''));
      } catch {
        // no completions
      }
      return 0;
    }
    const [shell, extra] = positionals;
    if ((shell !== 'bash' && shell !== 'zsh') || extra !== undefined) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `expected bash or zsh, got ${JSON.stringify(positionals.join(' '))}; run 'trellis completion --help'`,
      );
    }
    io.stdout(await completionScript(shell));
    return 0;
  },
};
