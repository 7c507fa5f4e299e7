// Holds the credentials snapshot in force. Sources (file, control endpoint) offer new documents;
// a bad one never replaces the last good one. Readers take `current` once per request.
import type { CredentialsSnapshot } from './snapshot.js';

export type ReloadResult = 'applied' | 'unchanged' | 'rejected';

export class CredentialsRegistry {
  private snapshot: CredentialsSnapshot | undefined;
  private readonly listeners: Array<(s: CredentialsSnapshot) => void> = [];

  get current(): CredentialsSnapshot | undefined {
    return this.snapshot;
  }

  /** Swaps in a new snapshot unless it is the same document. */
  offer(next: CredentialsSnapshot): ReloadResult {
    if (this.snapshot?.version === next.version) return 'unchanged';
    this.snapshot = next;
    for (const l of this.listeners) l(next);
    return 'applied';
  }

  onChange(listener: (s: CredentialsSnapshot) => void): void {
    this.listeners.push(listener);
  }
}
