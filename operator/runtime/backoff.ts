// The one retry backoff of ovn-drift: exponential, capped, with "equal jitter" (a delay drawn from
// [d/2, d] where d = min(max, min * 2^attempt)) so replicas that failed together do not retry in
// lockstep, yet never wait less than half the nominal delay. Used by the OVSDB reconnect loop, the
// replica opener, the Kubernetes informer and the agent's retry after a failed pass. Pure.

/** Delay before retry number `attempt` (0 = the first retry), in ms. `random` is for tests. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const d = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.round(d / 2 + random() * (d / 2));
}
