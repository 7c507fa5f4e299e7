// How a serving process answers signals (README "Signals"). SIGTERM is the orchestrator: the drain of
// SPEC §12 (readiness 503, drainDelay of normal service, then in-flight requests finish). SIGINT is an
// operator at a terminal (Ctrl-C), with no load balancer to wait for: the same without drainDelay. A
// second SIGTERM or SIGINT hurries: it ends the drain delay, or once closing, cuts what is still in
// flight. SIGHUP re-reads the credentials and the listener's TLS files (what a watch missed).
import type { App } from './app.js';

/** Resolves once a signal has shut the app down; the handlers are removed again by then. */
export function serveUntilSignalled(app: App): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: 'SIGTERM' | 'SIGINT'): void => {
      if (stopping) {
        app.hurry();
        return;
      }
      stopping = true;
      const done = (): void => {
        // Once stopped, a signal has its default effect again: a process that does not exit can be ended.
        process.off('SIGTERM', onTerm).off('SIGINT', onInt).off('SIGHUP', onHup);
        resolve();
      };
      app.shutdown({ skipDrainDelay: signal === 'SIGINT' }).then(done, (err: unknown) => {
        app.logger.error({ err }, 'shutdown failed');
        done();
      });
    };
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    const onHup = (): void => {
      void app.reloadCredentials();
      void app.reloadTls();
    };
    process.on('SIGTERM', onTerm).on('SIGINT', onInt).on('SIGHUP', onHup);
  });
}
