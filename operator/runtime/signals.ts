// The one way a long-running mode (operator, agent, sandbox) stops: an AbortSignal that fires on
// SIGINT or SIGTERM (its `reason` is the signal's name) or when an outer signal (tests) aborts.
// `dispose()` removes the process listeners again. Process plumbing only.

export interface StopSignal {
  signal: AbortSignal;
  /** Resolves with what stopped us ('SIGTERM', 'SIGINT' or 'abort') once the signal fires. */
  stopped: Promise<string>;
  dispose(): void;
}

export function stopSignal(outer?: AbortSignal): StopSignal {
  const ctl = new AbortController();
  const onTerm = (): void => ctl.abort('SIGTERM');
  const onInt = (): void => ctl.abort('SIGINT');
  const onOuter = (): void => ctl.abort('abort');
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);
  outer?.addEventListener('abort', onOuter, { once: true });
  if (outer?.aborted) onOuter();
  const stopped = new Promise<string>((resolve) => {
    if (ctl.signal.aborted) resolve(String(ctl.signal.reason));
    else ctl.signal.addEventListener('abort', () => resolve(String(ctl.signal.reason)), { once: true });
  });
  return {
    signal: ctl.signal,
    stopped,
    dispose: () => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      outer?.removeEventListener('abort', onOuter);
    },
  };
}
