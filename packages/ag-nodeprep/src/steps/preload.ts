import { MissingError, bundleRoot, resolveInRoot, type StoredImage } from '@ag/core';
import type { Action, ActionEnv } from '../actions/types.js';
import type { Step, StepContext } from '../context.js';
import { containerdImages, preloadImages } from '../preload.js';

function imagesOf(context: StepContext): StoredImage[] {
  return context.document?.images?.images ?? [];
}

export const preloadStep: Step = {
  name: 'preload',
  summary: 'with --preload-images: the bundle\'s images imported into containerd (namespace k8s.io), so kubeadm needs no registry',
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
        const present = await containerdImages(address, 'k8s.io', env.io);
        return images.filter((i) => present.get(i.ref) !== i.digest).map((i) => `${i.ref} is not in containerd's k8s.io namespace`);
      },
      async apply(env: ActionEnv) {
        const imported = await preloadImages({ layout, images, address, platform, io: env.io });
        return { detail: `imported ${imported.join(', ')}` };
      },
    };
    return [action];
  },
};
