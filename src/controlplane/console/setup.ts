/**
 * The console as the control plane starts it: its routes on the HTTP API's router, the audit
 * trail, and the bundle (made now when tokens are configured, as `trellis control-plane` and
 * `trellis up` do; on the first page request otherwise, so tests that never open it pay nothing).
 */
import type { Clock } from '../../core/clock.js';
import { errorMessage, TrellisError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ApiViews } from '../api-views.js';
import type { HttpRouter } from '../http-server.js';
import { defaultAssetDirs, ensureConsoleBundle, type ConsoleAssetDirs } from './assets.js';
import { AuditTrail } from './audit.js';
import { ConsoleAuth } from './auth.js';
import { registerConsoleRoutes } from './console-routes.js';
import type { TokenEntry } from './tokens.js';

export interface ConsoleSetup {
  /** Who may log in (tokens.ts parses the file). Absent: the API answers 401. */
  tokens?: readonly TokenEntry[];
  /** The append-only JSONL audit file (STATE-DIR/console-audit.jsonl); absent: memory only. */
  auditFile?: string;
  /** Where the console's sources and bundle are (tests). */
  assets?: ConsoleAssetDirs;
}

export function startConsole(
  router: HttpRouter,
  views: Pick<ApiViews, 'debug' | 'config'>,
  setup: ConsoleSetup & { clock: Clock; logger: Logger },
): { audit: AuditTrail } {
  const assets = setup.assets ?? defaultAssetDirs();
  const audit = new AuditTrail({
    clock: setup.clock,
    logger: setup.logger,
    ...(setup.auditFile !== undefined ? { file: setup.auditFile } : {}),
  });
  let bundling: Promise<void> | undefined;
  const bundled = (): Promise<void> =>
    (bundling ??= ensureConsoleBundle(assets).then(
      (how) => {
        if (how === 'built') setup.logger.info('console bundled', { dir: assets.out });
      },
      (err: unknown) => {
        setup.logger.error('the console could not be bundled', { error: errorMessage(err) });
        throw new TrellisError('TRELLIS_INTERNAL', `the console could not be bundled: ${errorMessage(err)}`);
      },
    ));
  // Started now and awaited by page requests; the catch keeps a failure from going unhandled.
  if (setup.tokens !== undefined) bundled().catch(() => undefined);
  registerConsoleRoutes(router, views, {
    auth: setup.tokens !== undefined ? new ConsoleAuth(setup.tokens) : undefined,
    audit,
    clock: setup.clock,
    assets,
    bundled,
  });
  return { audit };
}
