// Signals → app actions. Any number of signals in any order is safe: shutdown is one shared promise
// (seed 000 "double close"), a reload during shutdown is ignored, and handlers never throw.
import { log } from "../metrics/log";

export interface SignalTargets {
  reload: () => void | Promise<void>;
  shutdown: (signal: string) => Promise<void>;
  exit: (code: number) => void;
}

export function installSignals(t: SignalTargets): () => void {
  let stopping: Promise<void> | null = null;
  const onTerm = (sig: NodeJS.Signals) => {
    if (stopping) {
      log.info("shutdown already in progress", { signal: sig });
      return;
    }
    stopping = t.shutdown(sig).then(
      () => t.exit(0),
      (err) => {
        log.error("shutdown failed", { err });
        t.exit(1);
      },
    );
  };
  const onHup = () => {
    if (stopping) {
      log.info("reload ignored: shutting down");
      return;
    }
    Promise.resolve()
      .then(t.reload)
      .catch((err) => log.error("reload failed; keeping the running configuration", { err }));
  };
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onTerm);
  process.on("SIGHUP", onHup);
  return () => {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onTerm);
    process.off("SIGHUP", onHup);
  };
}
