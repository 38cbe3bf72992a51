// The rate-limited work queue: backoff growth, the overall bucket, de-duplication, a key never
// processed twice at once, terminal errors, requeueAfter, and a slow key not delaying another.
import { describe, expect, it } from 'vitest';
import { ItemExponentialBackoff, RateLimiter, TerminalError, TokenBucket, WorkQueue, runWorkers, type Clock } from '../../operator/controller/queue.js';

/** A manual clock: timers fire only when advance() passes them. */
class FakeClock implements Clock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private next = 0;
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = ++this.next;
    this.timers.push({ at: this.t + ms, fn, id });
    return { id } as never;
  }
  clearTimeout(h: unknown) {
    this.timers = this.timers.filter((x) => x.id !== (h as { id: number }).id);
  }
  advance(ms: number) {
    this.t += ms;
    const due = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at);
    this.timers = this.timers.filter((x) => x.at > this.t);
    for (const d of due) d.fn();
  }
}

const tick = () => new Promise((r) => setImmediate(r));

describe('rate limiters', () => {
  it('per-key backoff doubles from 5 ms and is capped at 1000 s; forget resets it; keys are independent', () => {
    const b = new ItemExponentialBackoff<string>();
    const seq = Array.from({ length: 20 }, () => b.when('a'));
    expect(seq.slice(0, 6)).toEqual([5, 10, 20, 40, 80, 160]);
    expect(seq.every((x, i) => i === 0 || x >= seq[i - 1]!)).toBe(true);
    expect(Math.max(...seq)).toBe(1_000_000);
    expect(b.when('b')).toBe(5);
    expect(b.numRequeues('a')).toBe(20);
    b.forget('a');
    expect(b.when('a')).toBe(5);
  });

  it('the overall bucket lets a burst through, then spaces requests at qps', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(10, 3, clock);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0]);
    expect(bucket.reserve()).toBe(100);
    expect(bucket.reserve()).toBe(200);
    clock.advance(1000);
    expect(bucket.reserve()).toBe(0);
  });

  it('the combined limiter waits for the longer of the two', () => {
    const clock = new FakeClock();
    const rl = new RateLimiter<string>({ qps: 1, burst: 1, clock });
    expect(rl.when('x')).toBe(5);
    expect(rl.when('y')).toBe(1000);
  });
});

describe('WorkQueue', () => {
  it('addFirst serves a changed key before a backlog of everything, once', async () => {
    const q = new WorkQueue<string>();
    for (let i = 0; i < 1000; i++) q.add(`r${i}`);
    q.addFirst('r900'); // already waiting: moved to the front, not added twice
    q.addFirst('new'); // not waiting yet
    expect(q.length).toBe(1001);
    expect(await q.get()).toBe('new');
    expect(await q.get()).toBe('r900');
    expect(await q.get()).toBe('r0');
    const k = await q.get(); // r1 is processing: addFirst marks it dirty, like add()
    q.addFirst(k!);
    expect(q.length).toBe(997);
    q.done(k!);
    expect(q.length).toBe(998);
  });

  it('de-duplicates a key that is waiting', async () => {
    const q = new WorkQueue<string>();
    q.add('a');
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('a key added while it is processed comes back once, after done(), never concurrently', async () => {
    const q = new WorkQueue<string>();
    q.add('a');
    const k = await q.get();
    q.add('a');
    q.add('a');
    expect(q.length).toBe(0);
    q.done(k!);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('a');
  });

  it('addAfter keeps the earliest time and add() supersedes a delay', () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>({ clock });
    q.addAfter('a', 1000);
    q.addAfter('a', 5000);
    clock.advance(999);
    expect(q.length).toBe(0);
    clock.advance(1);
    expect(q.length).toBe(1);
    q.addAfter('b', 1000);
    q.add('b');
    expect(q.length).toBe(2);
    clock.advance(2000);
    expect(q.length).toBe(2);
  });

  it('failures are retried with growing delays; success forgets them', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>({ clock, rateLimiter: new RateLimiter({ clock, qps: 1000, burst: 1000 }) });
    const delays: (number | undefined)[] = [];
    let calls = 0;
    const done = runWorkers(q, 1, async () => {
      calls++;
      if (calls <= 4) throw new Error('conflict');
    }, { onError: (_k, _e, ms) => delays.push(ms) });
    q.add('a');
    for (const ms of [5, 10, 20, 40]) {
      await tick();
      clock.advance(ms);
    }
    await tick();
    expect(calls).toBe(5);
    expect(delays).toEqual([5, 10, 20, 40]);
    expect(q.numRequeues('a')).toBe(0);
    q.shutDown();
    await done;
  });

  it('a terminal error is not retried until the key is added again', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>({ clock });
    let calls = 0;
    const done = runWorkers(q, 1, async () => {
      calls++;
      throw new TerminalError('422 Invalid');
    });
    q.add('a');
    await tick();
    clock.advance(10_000_000);
    await tick();
    expect(calls).toBe(1);
    q.add('a');
    await tick();
    expect(calls).toBe(2);
    q.shutDown();
    await done;
  });

  it('requeueAfter brings the key back at that time', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>({ clock });
    let calls = 0;
    const done = runWorkers(q, 1, async () => (++calls === 1 ? { requeueAfterMs: 3000 } : undefined));
    q.add('a');
    await tick();
    clock.advance(2999);
    await tick();
    expect(calls).toBe(1);
    clock.advance(1);
    await tick();
    expect(calls).toBe(2);
    q.shutDown();
    await done;
  });

  it('a slow key (a repair waiting on the SB) does not delay another key', async () => {
    const q = new WorkQueue<string>();
    const finished: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const done = runWorkers(q, 2, async (k) => {
      if (k === 'slow') await slow;
      finished.push(k);
    });
    q.add('slow');
    q.add('fast-1');
    q.add('fast-2');
    for (let i = 0; i < 10 && finished.length < 2; i++) await tick();
    expect(finished).toEqual(['fast-1', 'fast-2']);
    release();
    for (let i = 0; i < 10 && finished.length < 3; i++) await tick();
    expect(finished).toEqual(['fast-1', 'fast-2', 'slow']);
    q.shutDown();
    await done;
  });
});

describe('runWorkers and the event loop', () => {
  it('a long queue of reconciles that do no I/O still lets timers and I/O run', async () => {
    const q = new WorkQueue<number>();
    let timerRanAt = -1;
    let done = 0;
    const workers = runWorkers(q, 2, async () => {
      const until = Date.now() + 1;
      while (Date.now() < until) {
        /* busy, like an evaluation */
      }
      done++;
    });
    setTimeout(() => (timerRanAt = done), 0);
    for (let i = 0; i < 200; i++) q.add(i);
    while (done < 200) await new Promise((r) => setTimeout(r, 5));
    expect(timerRanAt).toBeGreaterThanOrEqual(0);
    expect(timerRanAt).toBeLessThan(100);
    q.shutDown();
    await workers;
  });
});
