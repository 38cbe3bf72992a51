// Which Events a status change deserves: drift found, drift resolved, repaired, repair failed.
// Decided from the previous and the next status (level-based), so a resync that changes nothing
// emits nothing. Pure; must not import the Kubernetes client or OVSDB code.
import type { PodCIDRRouteStatus } from '../api/status.js';
import { DRIFT_KINDS } from '../drift/kinds.js';

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: 'DriftDetected' | 'DriftResolved' | 'Repaired' | 'RepairFailed';
  action: 'Check' | 'Repair';
  note: string;
}

const drift = new Set<string>(DRIFT_KINDS);

function ready(s: PodCIDRRouteStatus | undefined) {
  return s?.conditions?.find((c) => c.type === 'Ready');
}

function driftSignature(s: PodCIDRRouteStatus | undefined): string {
  return (s?.routes ?? [])
    .filter((r) => r.state === 'Drifted')
    .map((r) => `${r.prefix}:${(r.findings ?? []).join('+')}`)
    .join(',');
}

export function plannedEvents(
  previous: PodCIDRRouteStatus | undefined,
  next: PodCIDRRouteStatus,
  repair?: { ok: boolean; changed: number; message: string },
  /** The last Event this process wrote about the resource was DriftDetected (no DriftResolved since). */
  driftOutstanding = false,
): PlannedEvent[] {
  const out: PlannedEvent[] = [];
  const before = ready(previous);
  const after = ready(next);
  if (repair && repair.changed > 0 && repair.ok) out.push({ type: 'Normal', reason: 'Repaired', action: 'Repair', note: repair.message });
  if (repair && !repair.ok) out.push({ type: 'Warning', reason: 'RepairFailed', action: 'Repair', note: repair.message });
  if (after?.status === 'False' && drift.has(after.reason)) {
    if (driftSignature(previous) !== driftSignature(next) || before?.reason !== after.reason) {
      out.push({ type: 'Warning', reason: 'DriftDetected', action: 'Check', note: after.message });
    }
  } else if (after?.status === 'True' && (driftOutstanding || (before?.status === 'False' && drift.has(before.reason)))) {
    // also after a spell of OvsdbUnavailable (or a restart) between the drift and its resolution
    out.push({ type: 'Normal', reason: 'DriftResolved', action: 'Check', note: after.message });
  }
  return out;
}
