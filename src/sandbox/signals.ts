import { constants } from 'node:os';

/** The signals that end a sandbox run early: Ctrl-C, `kill`, a closed terminal. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** Shell convention for "ended by a signal": 130 for SIGINT, 143 for SIGTERM. */
export function signalExitStatus(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

/**
 * Handles the stop signals with `onSignal` instead of dying, until the returned function
 * is called (then the process's previous behaviour is back).
 */
export function forwardSignals(onSignal: (signal: StopSignal) => void): () => void {
  const handlers = STOP_SIGNALS.map((s) => [s, () => onSignal(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  return () => {
    for (const [s, h] of handlers) process.off(s, h);
  };
}
