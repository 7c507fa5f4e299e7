// The package's bin (SPEC §2): `serve`, `check`, `keys …`, `tenants …`, `schema …`, `store ack-loss`, `--version`, and `--help`
// on every command. Argument parsing and exit codes only (0 ok, 1 failed, 2 usage error); the work is
// done by app.ts, config/, keys/ and idempotency/.
import { configPath, loadConfig, type ProxyConfig } from './config/load.js';
import { ProblemsError } from './config/problems.js';
import { formatFinding, runCheck } from './check.js';
import { startApp } from './app.js';
import { packageVersion } from './telemetry/process-metrics.js';
import { serveUntilSignalled } from './signals.js';
import { runKeys } from './keys/keys-cli.js';
import { runTenants } from './keys/tenants-cli.js';
import { runStore } from './idempotency/store-cli.js';
import { runSchema } from './config/schema-cli.js';
import { EXIT_FAILED, EXIT_OK, UsageError, parseCommand, reportError } from './command-line.js';

const USAGE = `usage: custody-proxy <command> [options]

Commands:
  serve            run the proxy
  check            validate the config and everything serve needs, without serving
  keys             create, rotate, activate, revoke, list and prune API keys in a credentials document
  tenants          add tenants, set their IP allowlists and list them in a credentials document
  schema           print the JSON Schema of the config or the credentials document (for editors)
  store ack-loss   acknowledge an idempotency-store data loss

Options:
  -h, --help       this help; custody-proxy <command> --help shows a command's own
  --version        print the version

Exit codes: 0 done, 1 failed (or invalid, for check), 2 usage error.`;

const CONFIG_OPTION = '  -c, --config FILE     the proxy config (default $CUSTODY_PROXY_CONFIG, then config/custody-proxy.yaml)';
const HELP_OPTION = '  -h, --help            this help';

const SERVE = {
  name: 'serve',
  usage: `usage: custody-proxy serve [--config FILE]

Runs the proxy and its admin listener until SIGTERM or SIGINT; SIGHUP re-reads the credentials and the TLS files.
An invalid config or credentials document stops it at start (every problem listed, exit 1).

options:
${CONFIG_OPTION}
${HELP_OPTION}`,
  options: { config: { type: 'string', short: 'c' } },
} as const;

const CHECK = {
  name: 'check',
  usage: `usage: custody-proxy check [--config FILE]

Validates everything serve needs before it serves, without serving: the config, the credentials
document it names (a control endpoint is not fetched), the token files serve reads (readable, not
empty), the TLS files (certificate and key readable, PEM, matching, not expired; upstream.caFile). Each problem is one line on stderr, \`path: message (at FILE:LINE:COL)\`; warnings follow as
\`warning: …\` lines and never change the exit code. Exit 0 valid (\`ok: …\` on stdout), 1 invalid.

options:
${CONFIG_OPTION}
${HELP_OPTION}`,
  options: { config: { type: 'string', short: 'c' } },
} as const;

function loadOrReport(file: string): ProxyConfig | undefined {
  try {
    return loadConfig(file);
  } catch (err) {
    if (!(err instanceof ProblemsError)) throw err;
    for (const p of err.problems) process.stderr.write(`${p}\n`);
    return undefined;
  }
}

function check(args: string[]): number {
  const parsed = parseCommand(args, CHECK);
  if (!parsed) return EXIT_OK;
  const file = configPath(parsed.values.config);
  const report = runCheck(file);
  for (const p of report.problems) process.stderr.write(`${formatFinding(p)}\n`);
  // Separate from the problems, after them, and never a reason to fail.
  for (const w of report.warnings) process.stderr.write(`warning: ${formatFinding(w)}\n`);
  if (report.problems.length > 0) return EXIT_FAILED;
  process.stdout.write(`ok: ${file} (${report.summary})\n`);
  return EXIT_OK;
}

async function serve(args: string[]): Promise<number> {
  const parsed = parseCommand(args, SERVE);
  if (!parsed) return EXIT_OK;
  const config = loadOrReport(configPath(parsed.values.config));
  if (!config) return EXIT_FAILED;
  let app;
  try {
    app = await startApp(config);
  } catch (err) {
    if (err instanceof ProblemsError) {
      for (const p of err.problems) process.stderr.write(`${p}\n`);
      const what = err.kind === 'credentials' ? 'no valid credentials document' : 'files the config names are unusable';
      process.stderr.write(`custody-proxy: ${what} (${err.source}); not serving\n`);
      return EXIT_FAILED;
    }
    process.stderr.write(`custody-proxy: ${(err as Error).message}\n`);
    return EXIT_FAILED;
  }
  await serveUntilSignalled(app);
  return EXIT_OK;
}

function topLevel(command: string | undefined): number {
  switch (command) {
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return EXIT_OK;
    case '--version':
      process.stdout.write(`${packageVersion()}\n`);
      return EXIT_OK;
    case undefined:
      throw new UsageError('missing command (see custody-proxy --help)');
    default:
      throw new UsageError(`unknown ${command.startsWith('-') ? 'option' : 'command'} ${JSON.stringify(command)} (see custody-proxy --help)`);
  }
}

/** Runs one command line; resolves to the exit code (bin/custody-proxy.js sets it). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(rest);
      case 'check':
        return check(rest);
      case 'keys':
        return await runKeys(rest);
      case 'tenants':
        return await runTenants(rest);
      case 'schema':
        return runSchema(rest);
      case 'store':
        return await runStore(rest);
      default:
        return topLevel(command);
    }
  } catch (err) {
    return reportError(`custody-proxy${command === 'serve' || command === 'check' || command === 'schema' ? ` ${command}` : ''}`, err);
  }
}
