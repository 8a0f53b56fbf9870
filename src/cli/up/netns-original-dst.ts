/**
 * The address a captured connection was sent to before iptables' DNAT rewrote it, read with
 * getsockopt(SO_ORIGINAL_DST) through the small native addon in native/ (Node has no API for
 * it). scripts/setup.sh builds the addon when it can; it is loaded only when asked for, so
 * machines without a compiler lose nothing but this.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { TrellisError, errorMessage } from '../../core/errors.js';
import type {
  OriginalDestination,
  OriginalDestinationReader,
} from '../../proxy/listener/outbound-capture.js';

export type { OriginalDestination, OriginalDestinationReader };

interface Addon {
  originalDestination(fd: number): OriginalDestination | undefined;
}

const ADDON = path.resolve(import.meta.dirname, '../../../native/build/Release/trellis_netns.node');

export function loadOriginalDestination(addonPath = ADDON): OriginalDestinationReader {
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(addonPath) as Addon;
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_UNSUPPORTED',
      `the SO_ORIGINAL_DST addon is not built (${errorMessage(err)}); build it with scripts/setup.sh, or \`cd native && npx node-gyp rebuild\` (needs a C compiler and Node headers)`,
    );
  }
  return (socket) => {
    // A TCP socket's libuv handle exposes its descriptor on Linux; Node has no public API for it.
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (fd === undefined || fd < 0) return undefined;
    return addon.originalDestination(fd);
  };
}
