// Holds the credentials snapshot in force. Sources (file, control endpoint) offer new documents;
// a bad one never replaces the last good one. Readers take `current` once per request.
import type { CredentialsSnapshot } from './snapshot.js';
import { carryLastUse } from './last-use.js';

export type ReloadResult = 'applied' | 'unchanged' | 'rejected';

/** Told of every swap: the new snapshot, the one it replaced (none at the first load), and its source. */
export type ChangeListener = (next: CredentialsSnapshot, previous: CredentialsSnapshot | undefined, source: string) => void;

export class CredentialsRegistry {
  private snapshot: CredentialsSnapshot | undefined;
  private readonly listeners: ChangeListener[] = [];

  get current(): CredentialsSnapshot | undefined {
    return this.snapshot;
  }

  /** Swaps in a new snapshot unless it is the same document; `source` names where it came from (file path, endpoint origin). */
  offer(next: CredentialsSnapshot, source: string): ReloadResult {
    const previous = this.snapshot;
    if (previous?.version === next.version) return 'unchanged';
    // A request that authenticated against the old snapshot in the instant of the swap may stamp the
    // old record after this copy: that one stamp is lost, the next request sets it again.
    carryLastUse(previous, next);
    this.snapshot = next;
    for (const l of this.listeners) l(next, previous, source);
    return 'applied';
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }
}
