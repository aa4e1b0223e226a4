import { posix } from 'node:path';
import { bundleRoot, resolveInRoot } from '@ag/core';
import { installFileAction } from '../actions/install-file.js';
import type { Action } from '../actions/types.js';
import type { StepCode } from '../context.js';

/**
 * Where each kind of file under the bundle's tools/share/ goes on a node:
 * the places bash-completion, zsh and man read without configuration on
 * Debian, Ubuntu and the RHEL family (bash-completion loads
 * /etc/bash_completion.d/* for compatibility; /usr/local/share/zsh/site-functions
 * is in zsh's default fpath; man(1) searches /usr/share/man).
 */
const DESTINATIONS: ReadonlyArray<{ under: string; to: string; what: string }> = [
  { under: 'tools/share/bash-completion/completions/', to: '/etc/bash_completion.d/', what: 'bash completion' },
  { under: 'tools/share/zsh/vendor-completions/', to: '/usr/local/share/zsh/site-functions/', what: 'zsh completion' },
  { under: 'tools/share/man/man1/', to: '/usr/share/man/man1/', what: 'the man page' },
];

export const shellStep: StepCode = {
  async plan(context) {
    const tools = context.document?.bundle?.tools ?? [];
    if (tools.length === 0 || context.document === undefined) return [];
    const root = bundleRoot(context.document, context.options.bundleDir);
    return tools.flatMap((tool): Action[] => {
      const destination = DESTINATIONS.find((d) => tool.path.startsWith(d.under) && !tool.path.slice(d.under.length).includes('/'));
      if (destination === undefined) return [];
      const name = posix.basename(tool.path);
      return [
        installFileAction({
          step: 'shell',
          source: resolveInRoot(root, tool.path),
          sourceLabel: tool.path,
          sha256: tool.sha256,
          path: `${destination.to}${name}`,
          mode: 0o644,
          why: `${destination.what} of ${name.replace(/^_/, '').replace(/\.1$/, '')}`,
        }),
      ];
    });
  },
};
