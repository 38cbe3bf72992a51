// Narrow wrappers over @kubernetes/client-node used by the operator: informers, status writes,
// Events, Lease leader election, kubeconfig loading.
export { Informer, type InformerOptions, type KubeObject, type ListResult, type InformerEvent } from './informer.js';
export { StatusWriter, mergePatchDiff } from './status.js';
export { EventRecorder, type EventInput, type EventTarget } from './events.js';
export { LeaderElector, type LeaderElectorOptions } from './lease.js';
export { loadKubeConfig, KubeConfigError } from './config.js';
export { WrittenCache } from './written.js';
