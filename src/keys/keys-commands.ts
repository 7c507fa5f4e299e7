// What each `custody-proxy keys …` command takes (SPEC §2): its flags for parseArgs and its --help
// text. The work is in keys-cli.ts.
const FILE = '  --file CREDS          the credentials document (rewritten atomically, comments kept)';
const HELP = '  -h, --help            this help';

export const KEYS_USAGE = `usage: custody-proxy keys <command> [options]

Edits the credentials document. Commands:
  create     generate a key pair for a tenant; prints the bearer token once
  rotate     issue a new key for a key's tenant; the old one stays valid for a grace period
  activate   make a provisioned key active
  revoke     revoke a key (permanent)
  list       show the keys (never hashes or secrets)
  prune      remove the records of keys revoked or expired long ago

Run custody-proxy keys <command> --help for its options.`;

export const CREATE = {
  name: 'keys create',
  usage: `usage: custody-proxy keys create --file CREDS --tenant ID [--env live|test] [--status provisioned|active] [--label TEXT]
                           [--expires DURATION|DATE] [--permission 'METHODS PATHS']...

Generates a key pair for tenant ID, writes its hashed record (with createdAt) into CREDS and prints
the bearer token ck_<env>_<id>:sk_<env>_<secret> once on stdout (nothing else). An unknown tenant is
an error.

options:
${FILE}
  --tenant ID           an existing tenant of CREDS
  --env live|test       the key's environment (default live)
  --status S            provisioned or active (default active)
  --label TEXT          a label shown in listings
  --expires WHEN        expiresAt: a duration from now (90d, 12h) or a date (2027-06-01, 2027-06-01T12:00:00Z)
  --permission RULE     allow only these methods and paths, e.g. 'GET,HEAD /v1/vaults /v1/vaults/**'
                        (* = one segment, ** = any rest); repeatable; none = every method and path
${HELP}`,
  options: {
    file: { type: 'string' },
    tenant: { type: 'string' },
    env: { type: 'string' },
    status: { type: 'string' },
    label: { type: 'string' },
    expires: { type: 'string' },
    permission: { type: 'string', multiple: true },
  },
} as const;

export const ROTATE = {
  name: 'keys rotate',
  usage: `usage: custody-proxy keys rotate KEYID --file CREDS [--grace DURATION]

Issues a new active key for KEYID's tenant (its token printed once on stdout, as keys create does),
with KEYID's label, permissions, ipAllowList and rateLimit (a rotation never widens access) and a
fresh createdAt; KEYID becomes rotated and is still accepted until now + DURATION.

options:
${FILE}
  --grace DURATION      how long the old key keeps working, e.g. 30m, 24h (default 24h)
${HELP}`,
  options: { file: { type: 'string' }, grace: { type: 'string' } },
  positionals: { min: 1, max: 1, names: 'KEYID' },
} as const;

const statusChange = (name: 'activate' | 'revoke', does: string) =>
  ({
    name: `keys ${name}`,
    usage: `usage: custody-proxy keys ${name} KEYID --file CREDS

${does}

options:
${FILE}
${HELP}`,
    options: { file: { type: 'string' } },
    positionals: { min: 1, max: 1, names: 'KEYID' },
  }) as const;

export const ACTIVATE = statusChange('activate', 'Makes KEYID active (a revoked key stays revoked: revocation is permanent).');
export const REVOKE = statusChange('revoke', 'Revokes KEYID: a running proxy refuses it (401) within 2 s of the file changing.');

export const LIST = {
  name: 'keys list',
  usage: `usage: custody-proxy keys list --file CREDS [--tenant ID] [--json]

Prints a table of key id, tenant, status, effective status (a rotated key past its grace, or any key
past expiresAt, reads expired), createdAt, graceUntil, expiresAt, warnings (expiring: usable and
expiring within 7 days; rotation_due: active and created over 90 days ago; the defaults of
credentials.expiryWarning and maxAge, which check and serve take from the config) and label. Never a
hash or a secret.

options:
${FILE}
  --tenant ID           only this tenant's keys (an unknown tenant is an error)
  --json                a JSON array of {keyId, tenant, status, effectiveStatus, createdAt, graceUntil,
                        expiresAt, label, warnings} instead (null where the record has no such field)
${HELP}`,
  options: { file: { type: 'string' }, tenant: { type: 'string' }, json: { type: 'boolean' } },
} as const;

export const PRUNE = {
  name: 'keys prune',
  usage: `usage: custody-proxy keys prune --file CREDS [--older-than DURATION]

Removes the records of revoked and expired keys (past expiresAt, or rotated past graceUntil) whose
latest date (graceUntil, expiresAt or createdAt) is older than DURATION; a dead record with none of
these dates counts as old. Prints the removed key ids, one a line; with none, CREDS is not rewritten.

options:
${FILE}
  --older-than DURATION how long a dead key stays listed, e.g. 30d, 12h (default 30d)
${HELP}`,
  options: { file: { type: 'string' }, 'older-than': { type: 'string' } },
} as const;
