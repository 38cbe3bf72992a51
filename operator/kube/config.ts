// Builds the KubeConfig: an explicit --kubeconfig file, else the default chain of client-node
// (KUBECONFIG, ~/.kube/config, then the in-cluster service account).
// Kubernetes client only; must not import OVSDB, drift or controller code.
import { KubeConfig } from '@kubernetes/client-node';

export class KubeConfigError extends Error {
  readonly code = 'KubeConfigInvalid';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
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
