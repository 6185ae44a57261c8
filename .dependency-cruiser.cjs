/**
 * The server's dependency rules, checked by `npm run check:architecture` (run by `.ci/run`).
 * Direction: server/cli → app, services, background → feature routes → feature services → db, http
 * helpers, auth, cluster, jobs and neutral modules. See docs/architecture.md.
 */
const FEATURES = 'accounts|api-keys|audit|email|events|idempotency|invitations|members|rate-limit|tokens|usage|webhooks|workspaces';
const ROOT = '^src/(app|services|background|server)\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Modules import each other: one of them should not know the other.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'storage-knows-no-feature',
      severity: 'error',
      comment: 'db/ is the storage seam: it knows tables and dialects, never a feature or HTTP.',
      from: { path: '^src/db/' },
      to: { path: `^src/(${FEATURES}|http|auth|cluster|jobs|cli)/|${ROOT}` },
    },
    {
      name: 'infrastructure-knows-no-feature',
      severity: 'error',
      comment: 'jobs/ and cluster/ run any feature\'s work without knowing one (features register with them).',
      from: { path: '^src/(jobs|cluster)/' },
      to: { path: `^src/(${FEATURES}|http|cli)/|${ROOT}` },
    },
    {
      name: 'features-never-import-the-composition-root',
      severity: 'error',
      comment: 'Features get what they need as arguments; only the composition root knows them all.',
      from: { path: `^src/(${FEATURES}|http|auth|db|jobs|cluster)/` },
      to: { path: ROOT },
    },
    {
      name: 'routes-take-narrow-options',
      severity: 'error',
      comment: 'A route plugin is handed only the services it uses, never the whole bag.',
      from: { path: '/routes\\.ts$' },
      to: { path: '^src/services\\.ts$' },
    },
    {
      name: 'client-knows-no-server',
      severity: 'error',
      comment: '@tooken/client runs in any Node or browser service: it never imports the server.',
      from: { path: '^packages/client/' },
      to: { path: '^src/' },
    },
    {
      name: 'client-takes-no-server-dependency',
      severity: 'error',
      comment: 'No database drivers, no Fastify in the client (Node\'s own types are allowed: the verifier runs in Node).',
      from: { path: '^packages/client/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-no-pkg', 'npm-unknown'], pathNot: 'openapi-fetch|@types/node' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.test\\.ts$|/dist/' },
  },
};
