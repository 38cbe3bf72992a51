// Gathering: the only controller code that reads the outside world. It turns the live NB/SB
// replicas into plain views (or a plain "unavailable" reason) and reads resources from the
// informer caches. Everything it returns is plain data for the pure evaluate/render steps.
// Must not write anything (no status, no OVSDB transactions).
import { nbView, type NbView } from '../ovn/nb.js';
import { sbView, type SbView } from '../ovn/sb.js';
import type { RowSource } from '../ovn/rows.js';
import { ownedRoutesSource, scopedSources, type RowKeyIndex } from './scope.js';

export interface OvnReplica extends RowSource {
  status(): { connected: boolean; remote?: string; stale: boolean; reconnects: number };
}

export type Views = { ok: true; nb: NbView; sb: SbView } | { ok: false; reason: string };

/**
 * The NB and SB views (whole, or scoped to some prefixes and nexthops), or why there are none: a database not opened yet, disconnected, or a
 * replica that cannot be read. A stale follower still yields views (the drift core turns its
 * staleness into StaleView findings).
 */
/** Why the replicas cannot be read (not opened yet, disconnected), or undefined when they can. */
function unavailable(nb: OvnReplica | undefined, sb: OvnReplica | undefined, openError: { NB?: string; SB?: string }): string | undefined {
  const reasons: string[] = [];
  if (!nb) reasons.push(`OVN NB database not connected${openError.NB ? `: ${openError.NB}` : ''}`);
  else if (!nb.status().connected) reasons.push(`OVN NB database disconnected${nb.status().remote ? ` from ${nb.status().remote}` : ''}`);
  if (!sb) reasons.push(`OVN SB database not connected${openError.SB ? `: ${openError.SB}` : ''}`);
  else if (!sb.status().connected) reasons.push(`OVN SB database disconnected${sb.status().remote ? ` from ${sb.status().remote}` : ''}`);
  return reasons.length > 0 ? reasons.join('; ') : undefined;
}

export function gatherViews(
  nb: OvnReplica | undefined,
  sb: OvnReplica | undefined,
  openError: { NB?: string; SB?: string },
  scope?: { nbIndex: RowKeyIndex; sbIndex: RowKeyIndex; prefixes: Iterable<string>; nexthops: Iterable<string>; routers?: Iterable<string> },
): Views {
  const reason = unavailable(nb, sb, openError);
  if (reason) return { ok: false, reason };
  try {
    if (scope) {
      const scoped = scopedSources(nb!, sb!, scope.nbIndex, scope.sbIndex, scope.prefixes, scope.nexthops, scope.routers ?? []);
      return { ok: true, nb: nbView(scoped.nb), sb: sbView(scoped.sb) };
    }
    return { ok: true, nb: nbView(nb!), sb: sbView(sb!) };
  } catch (err) {
    return { ok: false, reason: `cannot read the OVN replicas: ${(err as Error).message}` };
  }
}

/**
 * The NB view a deleted resource's removal plan needs (the routes it owns and their routers, or
 * the whole NB without an index), or why there is none: the same availability as gatherViews.
 */
export function ownedRoutesView(nb: OvnReplica | undefined, sb: OvnReplica | undefined, openError: { NB?: string; SB?: string }, nbIndex: RowKeyIndex | undefined, owner: string): { ok: true; nb: NbView } | { ok: false; reason: string } {
  const reason = unavailable(nb, sb, openError);
  if (reason) return { ok: false, reason };
  try {
    return { ok: true, nb: nbView(nbIndex ? ownedRoutesSource(nb!, nbIndex, owner) : nb!) };
  } catch (err) {
    return { ok: false, reason: `cannot read the OVN replicas: ${(err as Error).message}` };
  }
}
