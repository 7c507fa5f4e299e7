// Fail closed on a slow store (SPEC §9): a store call that has not answered within the deadline is
// treated as unreachable, whatever the client library would have done with it.
import { StoreUnavailableError } from './store.js';

export function withStoreDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
