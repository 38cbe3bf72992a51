// Builds the KubeConfig, the one way every mode (operator, agent cluster mode) loads it: an
// explicit --kubeconfig file, else the default chain of client-node (KUBECONFIG, ~/.kube/config,
// then the in-cluster service account). A kubeconfig that cannot be used is a configuration error
// (KubeConfigError, an OvnDriftError: exit 1).
// Kubernetes client only; must not import OVSDB, drift or controller code.
import { KubeConfig } from '@kubernetes/client-node';
import { OvnDriftError } from '../errors.js';

export class KubeConfigError extends OvnDriftError {
  declare readonly code: 'KubeConfigInvalid';
  constructor(message: string, options?: ErrorOptions) {
    super('KubeConfigInvalid', message, { ...options, exit: 'badInput' });
  }
}

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (err) {
    throw new KubeConfigError(`cannot load kubeconfig${path ? ` ${path}` : ''}: ${(err as Error).message}`, { cause: err });
  }
  if (!kc.getCurrentCluster()) {
    throw new KubeConfigError(`kubeconfig${path ? ` ${path}` : ''} has no current cluster (set --kubeconfig, KUBECONFIG, or run in a pod)`);
  }
  return kc;
}
