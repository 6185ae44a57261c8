import type { Command } from 'commander';
import { EXIT, run, UsageError } from '../context.js';
import { details, print, printList } from '../output.js';

type Role = 'owner' | 'admin' | 'viewer';
const role = (value: unknown): Role => {
  if (value === 'owner' || value === 'admin' || value === 'viewer') return value;
  throw new UsageError('the role must be owner, admin or viewer');
};

/** `members …` and `invitations …`: who belongs to the workspace. */
export function peopleCommands(program: Command): void {
  const members = program
    .command('members')
    .description('members of the workspace and their roles')
    .addHelpText('after', '\nExample:\n  tooken members invite dana@example.com --role viewer');

  members
    .command('list')
    .description('list members')
    .addHelpText('after', '\nExample:\n  tooken members list')
    .action(
      run(async ({ client, output }) => {
        printList(output, await (await client()).members.list(), [
          'user_id',
          'email',
          'name',
          'role',
          'joined_at',
        ]);
        return EXIT.ok;
      }),
    );

  members
    .command('invite <email>')
    .description('invite someone by email (Owners)')
    .requiredOption('--role <role>', 'owner, admin or viewer')
    .addHelpText('after', '\nExample:\n  tooken members invite dana@example.com --role admin')
    .action(
      run(async ({ client, output, args: [email = ''], options }) => {
        const invitation = await (await client()).invitations.create({ email, role: role(options.role) });
        print(output, invitation, () =>
          details(invitation, ['id', 'email', 'role', 'status', 'expires_at', 'accept_url']),
        );
        return EXIT.ok;
      }),
    );

  members
    .command('set-role <user_id> <role>')
    .description('change a member’s role (Owners)')
    .addHelpText('after', '\nExample:\n  tooken members set-role usr_0a1b2c3d4e5f6g7h8i9j0k1l viewer')
    .action(
      run(async ({ client, output, args: [userId = '', newRole] }) => {
        const member = await (await client()).members.setRole(userId, role(newRole));
        print(output, member, () => details(member, ['user_id', 'email', 'role']));
        return EXIT.ok;
      }),
    );

  members
    .command('remove <user_id>')
    .description('remove a member (Owners), or leave the workspace yourself')
    .addHelpText('after', '\nExample:\n  tooken members remove usr_0a1b2c3d4e5f6g7h8i9j0k1l')
    .action(
      run(async ({ client, output, args: [userId = ''] }) => {
        await (await client()).members.remove(userId);
        print(output, { removed: userId }, () => `Removed ${userId}.`);
        return EXIT.ok;
      }),
    );

  const invitations = program
    .command('invitations')
    .description('pending invitations')
    .addHelpText('after', '\nExample:\n  tooken invitations list');

  invitations
    .command('list')
    .description('list pending invitations (Owners also see each link)')
    .addHelpText('after', '\nExample:\n  tooken invitations list')
    .action(
      run(async ({ client, output }) => {
        printList(output, await (await client()).invitations.list(), [
          'id',
          'email',
          'role',
          'expires_at',
          'invited_by',
        ]);
        return EXIT.ok;
      }),
    );

  invitations
    .command('revoke <id>')
    .description('revoke a pending invitation (Owners)')
    .addHelpText('after', '\nExample:\n  tooken invitations revoke inv_0a1b2c3d4e5f6g7h8i9j0k1l')
    .action(
      run(async ({ client, output, args: [id = ''] }) => {
        await (await client()).invitations.revoke(id);
        print(output, { revoked: id }, () => `Revoked ${id}.`);
        return EXIT.ok;
      }),
    );
}
