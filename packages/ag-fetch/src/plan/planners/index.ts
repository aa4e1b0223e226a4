import type { Planner } from '../context.js';
import { chartsPlanner } from './charts.js';
import { containerRuntimePlanner } from './container-runtime.js';
import { controlPlaneImagesPlanner } from './control-plane-images.js';
import { extrasPlanner, registryImagePlanner } from './extras.js';
import { flannelPlanner } from './flannel.js';
import { kubeletUnitPlanner } from './kubelet-unit.js';
import { kubernetesBinariesPlanner } from './kubernetes-binaries.js';
import { nodeToolsPlanner } from './node-tools.js';
import { osPackagesPlanner } from '../../os-packages/os-packages-planner.js';

/**
 * What a kubeadm cluster needs, one concern per planner; the plan lists
 * files and images in this order. Add a planner here to plan something new
 * (OS packages plug in the same way).
 */
export const DEFAULT_PLANNERS: readonly Planner[] = [
  kubernetesBinariesPlanner,
  nodeToolsPlanner,
  containerRuntimePlanner,
  kubeletUnitPlanner,
  controlPlaneImagesPlanner,
  flannelPlanner,
  registryImagePlanner,
  chartsPlanner,
  extrasPlanner,
  osPackagesPlanner,
];
