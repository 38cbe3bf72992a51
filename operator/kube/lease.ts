// Leader election on a coordination.k8s.io/v1 Lease (client-node has none built in), after
// client-go's leaderelection: acquire when the Lease is free or its holder has not renewed within
// leaseDurationSeconds (measured on our clock from when we last saw the record change, so clock
// skew between replicas does not matter), renew every retryPeriod, every write guarded by the
// Lease's resourceVersion (409 = someone else won). Leadership is lost at once when a renewal is
// refused or the renew deadline passes without a successful renewal: isLeader() is computed from
// time, so writers that check it stop even before the timer fires. release() hands over on
// shutdown by clearing the holder.
// Kubernetes I/O only; must not import OVSDB, drift or controller code.
import { ApiException, CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface LeaderElectorOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger?: Logger;
  onStartedLeading?: () => void;
  onStoppedLeading?: (reason: string) => void;
  onNewLeader?: (identity: string) => void;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private leading = false;
  private lastRenew = 0;
  private observed?: { holder: string; rv: string; at: number; renewTime: string };
  private timer?: NodeJS.Timeout;
  private running = false;
  private busy?: Promise<void>;
  /** Transitions of this elector (metrics). */
  readonly stats = { acquired: 0, lost: 0 };

  constructor(private readonly opts: LeaderElectorOptions) {
    this.api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
    this.leaseMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2_000;
    if (!(this.renewDeadlineMs < this.leaseMs)) throw new Error('leader election: renewDeadline must be shorter than leaseDuration');
  }

  /** True only while the lease is held and was renewed within the renew deadline. */
  isLeader(): boolean {
    if (this.leading && Date.now() - this.lastRenew > this.renewDeadlineMs) this.lose('renew deadline passed');
    return this.leading;
  }

  /** The identity currently holding the lease, as last observed. */
  leader(): string | undefined {
    return this.observed?.holder || undefined;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = async () => {
      if (!this.running) return;
      this.busy = this.tryAcquireOrRenew();
      await this.busy;
      if (this.running) {
        this.timer = setTimeout(loop, this.retryMs);
      }
    };
    void loop();
  }

  /** Stop campaigning; if leading, clear the holder so another replica takes over at once. */
  async release(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.busy;
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.readNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace });
      if (lease.spec?.holderIdentity === this.opts.identity) {
        await this.api.replaceNamespacedLease({
          name: this.opts.name,
          namespace: this.opts.namespace,
          body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime() } },
        });
      }
      this.opts.logger?.info({ lease: this.opts.name }, 'lease released');
    } catch (err) {
      this.opts.logger?.warn({ err: (err as Error).message }, 'lease release failed; it expires by itself');
    }
    this.stats.lost++;
    this.opts.onStoppedLeading?.('released');
  }

  /** Stop without releasing (a crash, as far as other replicas can tell). */
  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    if (this.leading) this.lose('stopped');
  }

  private lose(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.stats.lost++;
    this.opts.logger?.warn({ lease: this.opts.name, reason }, 'lost leadership');
    this.opts.onStoppedLeading?.(reason);
  }

  private spec(transitions: number, acquireTime?: unknown): V1Lease['spec'] {
    const now = new V1MicroTime();
    return {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
      acquireTime: (acquireTime as V1MicroTime | undefined) ?? now,
      renewTime: now,
      leaseTransitions: transitions,
    };
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { namespace, name, identity } = this.opts;
    const now = Date.now();
    let lease: V1Lease | undefined;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404)) {
        this.opts.logger?.warn({ err: (err as Error).message }, 'lease read failed');
        this.isLeader(); // the deadline check
        return;
      }
    }
    try {
      if (!lease) {
        const created = await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: this.spec(0) } });
        this.observe(created, now);
        this.win();
        return;
      }
      const holder = lease.spec?.holderIdentity ?? '';
      this.observe(lease, now);
      const durationMs = (lease.spec?.leaseDurationSeconds ?? Math.ceil(this.leaseMs / 1000)) * 1000;
      if (holder !== '' && holder !== identity && now - this.observed!.at < durationMs) {
        // held by someone else and not expired (on our clock)
        if (this.leading) this.lose(`lease held by ${holder}`);
        return;
      }
      const mine = holder === identity;
      const transitions = (lease.spec?.leaseTransitions ?? 0) + (mine ? 0 : 1);
      const updated = await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: { ...lease, spec: this.spec(transitions, mine ? lease.spec?.acquireTime : undefined) },
      });
      this.observe(updated, Date.now());
      this.win();
    } catch (err) {
      if (err instanceof ApiException && (err.code === 409 || err.code === 404)) {
        this.opts.logger?.debug({ lease: name }, 'lease changed under us');
        if (this.leading) this.lose('lease update conflict');
      } else {
        this.opts.logger?.warn({ err: (err as Error).message }, 'lease update failed');
        this.isLeader();
      }
    }
  }

  private observe(lease: V1Lease, at: number): void {
    const holder = lease.spec?.holderIdentity ?? '';
    const rv = lease.metadata?.resourceVersion ?? '';
    const renewTime = String(lease.spec?.renewTime ?? '');
    if (!this.observed || this.observed.rv !== rv || this.observed.holder !== holder || this.observed.renewTime !== renewTime) {
      if (this.observed?.holder !== holder && holder) this.opts.onNewLeader?.(holder);
      this.observed = { holder, rv, at, renewTime };
    }
  }

  private win(): void {
    // A renew that was in flight when stop() ran must not make a stopped replica leader again.
    if (!this.running) return;
    this.lastRenew = Date.now();
    if (!this.leading) {
      this.leading = true;
      this.stats.acquired++;
      this.opts.logger?.info({ lease: this.opts.name, identity: this.opts.identity }, 'became leader');
      this.opts.onStartedLeading?.();
    }
  }
}
