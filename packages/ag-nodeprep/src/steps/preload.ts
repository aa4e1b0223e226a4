import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MissingError, bundleRoot, resolveInRoot, type StoredImage } from '@ag/core';
import type { Action, ActionEnv } from '../actions/types.js';
import type { StepCode, StepContext } from '../context.js';
import { containerdImages, preloadImages } from '../preload.js';

function imagesOf(context: StepContext): StoredImage[] {
  return context.document?.images?.images ?? [];
}

export const preloadStep: StepCode = {
  async plan(context) {
    if (!context.options.preloadImages) return [];
    const images = imagesOf(context);
    if (context.document?.images === undefined || images.length === 0) {
      throw new MissingError('--preload-images: the document has no images section', { hint: 'pipe the document that ag-images pull wrote (it carries the layout and the image list)' });
    }
    const layout = resolveInRoot(bundleRoot(context.document, context.options.bundleDir), context.document.images.layout);
    const address = context.options.containerdAddress;
    const platform = `linux/${context.arch}`;
    const action: Action = {
      record: {
        step: 'preload',
        action: 'preload-images',
        target: `containerd ${address} namespace k8s.io`,
        source: context.document.images.layout,
        hostOnly: true,
        why: `import ${images.length} image(s) for ${platform} so kubeadm finds them without a registry: ${images.map((i) => i.ref).join(', ')}`,
      },
      async inspect(env: ActionEnv) {
        // Before the containerd step has (re)started containerd, a preview cannot ask it: every image is then due.
        const present = await containerdImages(address, 'k8s.io', env.io).catch((error: unknown) => {
          if (env.preview) return new Map<string, string>();
          throw error;
        });
        return images.filter((i) => present.get(i.ref) !== i.digest).map((i) => `${i.ref} is not in containerd's k8s.io namespace`);
      },
      async change(env: ActionEnv) {
        const present = await containerdImages(address, 'k8s.io', env.io).catch(() => new Map<string, string>());
        const due = images.filter((i) => present.get(i.ref) !== i.digest);
        return { summary: `import ${due.length} image(s) into containerd (namespace k8s.io): ${due.map((i) => i.ref).join(', ')}` };
      },
      async blockers() {
        return (await stat(join(layout, 'index.json')).then(
          () => true,
          () => false,
        ))
          ? []
          : [new MissingError(`the bundle's image layout is not there: no ${join(layout, 'index.json')}`, { hint: 'unpack the whole bundle (ag-bundle unpack), or pass --dir with the bundle root' })];
      },
      async apply(env: ActionEnv) {
        const imported = await preloadImages({ layout, images, address, platform, io: env.io });
        return { detail: `imported ${imported.join(', ')}` };
      },
    };
    return [action];
  },
};
