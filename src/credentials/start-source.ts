// Picks and starts the credentials source (SPEC §8). A file must hold a valid document at start or
// the process does not serve; the control endpoint is polled, and until its first document loads
// the proxy is not ready (every request gets 503), never "allow all".
import type { ProxyConfig } from '../config/load.js';
import { TokenFile } from '../config/token-file.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { FileSource } from './file-source.js';
import type { CredentialsRegistry } from './registry.js';
import { UrlSource } from './url-source.js';

export interface CredentialSource {
  load(): Promise<string>;
  /** the problems of the last load when it refused the document or could not read it; else none */
  refusal(): readonly string[];
  close(): void;
}

export async function startCredentialSource(
  config: ProxyConfig,
  registry: CredentialsRegistry,
  logger: Logger,
  metrics: Metrics,
): Promise<CredentialSource> {
  const { url, file, pollInterval, tokenFile } = config.credentials;
  if (url) {
    const onRereadFailed = (problem: string): void => logger.warn({ problem }, 'credentials.tokenFile re-read failed; keeping the last token');
    const token = tokenFile === undefined ? undefined : new TokenFile(tokenFile, onRereadFailed);
    const source = new UrlSource({ url, pollIntervalMs: pollInterval, token }, registry, logger, metrics);
    source.start();
    await source.load();
    return source;
  }
  if (!file) throw new Error('credentials: set file or url');
  const source = new FileSource(file, registry, logger, metrics);
  await source.loadInitial();
  source.watch();
  return source;
}
