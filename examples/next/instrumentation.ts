// Delivers what is still queued when the server is told to stop. `next start` exits on SIGTERM by
// itself unless NEXT_MANUAL_SIG_HANDLE is set (start.ts sets it); then this handler owns the exit.
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME === 'nodejs' && process.env.NEXT_MANUAL_SIG_HANDLE) {
    const { tracker } = await import('./lib/tracking');
    const stop = (signal: NodeJS.Signals): void => {
      void tracker.shutdown({ timeoutMs: 5000 }).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  }
}
