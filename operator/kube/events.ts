// Records events.k8s.io/v1 Events about ovndrift.io resources, de-duplicated the way client-go's
// recorder does: the first occurrence creates an Event, repeats of the same (object, reason,
// note) within the window only bump its series (count, lastObservedTime), at most once per
// `seriesMinIntervalMs`. Never throws: an Event that cannot be written is logged and dropped.
// Kubernetes I/O only; must not import OVSDB, drift or controller code.
import { EventsV1Api, PatchStrategy, V1MicroTime, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';

/**
 * Namespaces kube-apiserver accepts for an events.k8s.io/v1 Event whose `regarding` is cluster-scoped
 * (ValidateEventCreate: anything else is "regarding.namespace: does not match event.namespace").
 */
export const EVENT_NAMESPACES_FOR_CLUSTER_SCOPED: readonly string[] = ['default', 'kube-system'];

export interface EventTarget {
  apiVersion: string;
  kind: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
  namespace?: string;
}

export interface EventInput {
  regarding: EventTarget;
  type: 'Normal' | 'Warning';
  reason: string;
  action: string;
  note: string;
}

export interface EventRecorderOptions {
  kubeConfig: KubeConfig;
  /** Namespace for Events about cluster-scoped objects (default "default"). */
  namespace?: string;
  controller?: string;
  instance: string;
  windowMs?: number;
  seriesMinIntervalMs?: number;
  logger?: Logger;
  now?: () => Date;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
  lastWrite: number;
  firstSeen: number;
}

export class EventRecorder {
  private readonly api: EventsV1Api;
  private readonly seen = new Map<string, Seen>();
  private readonly merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  /** Events created / series bumped / suppressed (tests and metrics read these). */
  readonly stats = { created: 0, series: 0, suppressed: 0, failed: 0 };

  constructor(private readonly opts: EventRecorderOptions) {
    this.api = opts.kubeConfig.makeApiClient(EventsV1Api);
  }

  async record(ev: EventInput): Promise<void> {
    const now = (this.opts.now ?? (() => new Date()))();
    const t = now.getTime();
    const key = `${ev.regarding.kind}/${ev.regarding.uid ?? ev.regarding.name}/${ev.type}/${ev.reason}/${ev.note}`;
    const windowMs = this.opts.windowMs ?? 10 * 60_000;
    for (const [k, s] of this.seen) if (t - s.firstSeen > windowMs) this.seen.delete(k);
    const prior = this.seen.get(key);
    try {
      if (prior) {
        prior.count++;
        if (t - prior.lastWrite < (this.opts.seriesMinIntervalMs ?? 60_000)) {
          this.stats.suppressed++;
          return;
        }
        prior.lastWrite = t;
        await this.api.patchNamespacedEvent(
          { name: prior.name, namespace: prior.namespace, body: { series: { count: prior.count, lastObservedTime: new V1MicroTime(t) } } },
          this.merge,
        );
        this.stats.series++;
        return;
      }
      const namespace = ev.regarding.namespace ?? this.opts.namespace ?? 'default';
      const created = await this.api.createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${ev.regarding.name}.` },
          eventTime: new V1MicroTime(t),
          type: ev.type,
          reason: ev.reason,
          action: ev.action,
          note: ev.note.length > 1024 ? `${ev.note.slice(0, 1000)} ... (truncated)` : ev.note,
          reportingController: this.opts.controller ?? 'ovndrift.io/operator',
          reportingInstance: this.opts.instance,
          regarding: {
            apiVersion: ev.regarding.apiVersion,
            kind: ev.regarding.kind,
            name: ev.regarding.name,
            ...(ev.regarding.uid ? { uid: ev.regarding.uid } : {}),
            ...(ev.regarding.resourceVersion ? { resourceVersion: ev.regarding.resourceVersion } : {}),
            ...(ev.regarding.namespace ? { namespace: ev.regarding.namespace } : {}),
          },
        },
      });
      this.seen.set(key, { name: created.metadata!.name!, namespace, count: 1, lastWrite: t, firstSeen: t });
      this.stats.created++;
    } catch (err) {
      this.stats.failed++;
      this.opts.logger?.warn({ err: (err as Error).message, reason: ev.reason, name: ev.regarding.name }, 'event not recorded');
    }
  }
}
