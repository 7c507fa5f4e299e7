// `custody-proxy keys …` (SPEC §2). Not built yet: the credential operations issue adds create,
// rotate, activate, revoke and list.

export async function runKeys(_args: string[]): Promise<number> {
  process.stderr.write('custody-proxy: keys commands are not available in this version\n');
  return 1;
}
