// resourceVersions are opaque: the written-status cache decides by equality with the version a
// write was based on, never by ordering. Versions here are deliberately not numbers (etcd's are
// today, but clients must not rely on it) and their string order is the reverse of time.
import { describe, expect, it } from 'vitest';
import { WrittenCache } from '../../operator/kube/written.js';

describe('WrittenCache (opaque resourceVersions)', () => {
  it('uses the written value while the informer still shows the version the write was based on', () => {
    const c = new WrittenCache<string>();
    c.remember('a', 'zz-base', 'aa-written', 'mine');
    expect(c.current('a', 'zz-base', 'stale')).toBe('mine');
    expect(c.size).toBe(1);
  });

  it('drops the entry once the informer shows the write or anything after it', () => {
    const c = new WrittenCache<string>();
    c.remember('a', 'zz-base', 'aa-written', 'mine');
    expect(c.current('a', 'aa-written', 'informer')).toBe('informer');
    expect(c.size).toBe(0);
    c.remember('b', 'k1', 'k2', 'mine');
    expect(c.current('b', 'opaque-later-by-someone-else', 'theirs')).toBe('theirs');
    expect(c.current('b', 'k1', 'stale-again')).toBe('stale-again'); // entry gone: no resurrection
  });

  it('without an entry, or without a resourceVersion, the informer wins', () => {
    const c = new WrittenCache<number>();
    expect(c.current('x', 'v', 1)).toBe(1);
    c.remember('x', undefined, 'v2', 2);
    expect(c.current('x', undefined, 1)).toBe(1);
  });
});

describe('WrittenCache.observe (the informer caught up without a reconcile)', () => {
  it('drops the entry when the informer shows the write or a later version, keeps it while it shows the base', () => {
    const c = new WrittenCache<string>();
    c.remember('a', 'zz-base', 'aa-written', 'mine');
    c.observe('a', 'zz-base');
    expect(c.size).toBe(1);
    expect(c.current('a', 'zz-base', 'stale')).toBe('mine');
    c.observe('a', 'aa-written');
    expect(c.size).toBe(0);
    c.remember('b', 'k1', 'k2', 'mine');
    c.observe('b', 'opaque-later');
    expect(c.size).toBe(0);
    expect(c.current('b', 'k1', 'stale-again')).toBe('stale-again');
    c.observe('nothing-here', 'v'); // no entry: nothing to do
    expect(c.size).toBe(0);
  });
});
