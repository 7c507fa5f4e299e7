// The package's bin (SPEC §2): `serve`, `check`, `keys …`, `store ack-loss`. Argument parsing and exit codes only;
// the work is done by app.ts, config/ and credentials/.
import { parseArgs } from 'node:util';
import { configPath, loadConfig, type ProxyConfig } from './config/load.js';
import { ProblemsError } from './config/problems.js';
import { readCredentialsFile } from './credentials/file-source.js';
import { startApp } from './app.js';
import { serveUntilSignalled } from './signals.js';
import { runKeys } from './keys/keys-cli.js';
import { runStore } from './idempotency/store-cli.js';

const USAGE = `usage:
  custody-proxy serve [--config FILE]
  custody-proxy check [--config FILE]
  custody-proxy keys create --file CREDS --tenant ID [--env live|test] [--status provisioned|active] [--label TEXT]
  custody-proxy keys rotate KEYID --file CREDS [--grace DURATION]
  custody-proxy keys activate|revoke KEYID --file CREDS
  custody-proxy store ack-loss [--config FILE]
  custody-proxy keys list --file CREDS`;

function configFlag(args: string[]): string | undefined {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: true });
  return values.config;
}

function loadOrReport(file: string): ProxyConfig | undefined {
  try {
    return loadConfig(file);
  } catch (err) {
    if (!(err instanceof ProblemsError)) throw err;
    for (const p of err.problems) process.stderr.write(`${p}\n`);
    return undefined;
  }
}

async function check(args: string[]): Promise<number> {
  const file = configPath(configFlag(args));
  const config = loadOrReport(file);
  if (!config) return 1;
  if (config.credentials.file) {
    const result = await readCredentialsFile(config.credentials.file);
    if (!result.ok) {
      for (const p of result.problems) process.stderr.write(`${p}\n`);
      return 1;
    }
    const { byKeyId, tenants } = result.snapshot;
    process.stdout.write(`ok: ${file} (${tenants.size} tenants, ${byKeyId.size} credentials)\n`);
  } else {
    process.stdout.write(`ok: ${file} (credentials from ${config.credentials.url?.origin ?? 'control endpoint'}, not fetched)\n`);
  }
  return 0;
}

async function serve(args: string[]): Promise<number> {
  const config = loadOrReport(configPath(configFlag(args)));
  if (!config) return 1;
  let app;
  try {
    app = await startApp(config);
  } catch (err) {
    if (err instanceof ProblemsError) {
      for (const p of err.problems) process.stderr.write(`${p}\n`);
      process.stderr.write(`custody-proxy: no valid credentials document (${err.source}); not serving\n`);
      return 1;
    }
    process.stderr.write(`custody-proxy: ${(err as Error).message}\n`);
    return 1;
  }
  await serveUntilSignalled(app);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(rest);
      case 'check':
        return await check(rest);
      case 'keys':
        return await runKeys(rest);
      case 'store':
        return await runStore(rest);
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return 0;
      default:
        process.stderr.write(`custody-proxy: unknown command ${JSON.stringify(command ?? '')}\n${USAGE}\n`);
        return 2;
    }
  } catch (err) {
    process.stderr.write(`custody-proxy: ${(err as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`custody-proxy: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
