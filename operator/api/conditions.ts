// The Kubernetes `Condition` (metav1.Condition) as every ovndrift.io status carries it — written
// once, used by the operator's status renderers and the agent's NodeNoTrackState — and the two
// API-convention helpers that go with it, as apimachinery keeps them next to the type
// (k8s.io/apimachinery/pkg/api/meta.SetStatusCondition): metav1.Time's RFC 3339 second-precision
// form, and lastTransitionTime kept stable unless a condition's status changes.
// Pure; imports nothing.

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  /** RFC 3339, second precision (k8sTime). */
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/** RFC 3339 with second precision, the way metav1.Time serialises (no milliseconds). */
export function k8sTime(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * Merge freshly computed conditions into the previous ones: lastTransitionTime is kept when the
 * status of that type did not change, and set to `now` when it did (or the type is new).
 */
export function mergeConditions(previous: readonly Condition[] | undefined, next: Omit<Condition, 'lastTransitionTime'>[], now: Date): Condition[] {
  return next.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    return { ...c, lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : k8sTime(now) };
  });
}
