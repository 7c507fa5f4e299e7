// What each `custody-proxy tenants …` command takes (SPEC §2 rev 2): its flags for parseArgs and its
// --help text. The work is in tenants-cli.ts.
const FILE = '  --file CREDS          the credentials document (rewritten atomically, comments kept)';
const HELP = '  -h, --help            this help';

export const TENANTS_USAGE = `usage: custody-proxy tenants <command> [options]

Edits the tenants of the credentials document. Commands:
  add             add a tenant, optionally with its IP allowlist
  set-allowlist   replace a tenant's IP allowlist (no CIDR: every IP allowed)
  list            show the tenants, their allowlists and key counts

Run custody-proxy tenants <command> --help for its options.`;

export const ADD = {
  name: 'tenants add',
  usage: `usage: custody-proxy tenants add ID --name NAME [--allow CIDR]... --file CREDS

Adds tenant ID to CREDS. With no --allow, every client IP is allowed (SPEC §6); a tenant that
exists already is an error.

options:
${FILE}
  --name NAME           the tenant's display name
  --allow CIDR          an IPv4/IPv6 address or CIDR its clients come from (repeatable)
${HELP}`,
  options: { file: { type: 'string' }, name: { type: 'string' }, allow: { type: 'string', multiple: true } },
  positionals: { min: 1, max: 1, names: 'ID' },
} as const;

export const SET_ALLOWLIST = {
  name: 'tenants set-allowlist',
  usage: `usage: custody-proxy tenants set-allowlist ID [CIDR...] --file CREDS

Replaces tenant ID's ipAllowList with the given IPv4/IPv6 addresses or CIDRs; with none, the list
is emptied ([]) and every client IP is allowed. A running proxy applies it within 2 s.

options:
${FILE}
${HELP}`,
  options: { file: { type: 'string' } },
  positionals: { min: 1, max: Number.POSITIVE_INFINITY, names: 'ID' },
} as const;

export const TENANTS_LIST = {
  name: 'tenants list',
  usage: `usage: custody-proxy tenants list --file CREDS [--json]

Prints a table of tenant id, name, number of keys and IP allowlist (- = every IP allowed).

options:
${FILE}
  --json                a JSON array of {id, name, ipAllowList, reportOnly, keys} instead
${HELP}`,
  options: { file: { type: 'string' }, json: { type: 'boolean' } },
} as const;
