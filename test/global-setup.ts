/** Says once per run which databases the API tests run on. */
export default function setup(): void {
  const url = process.env.TOOKEN_TEST_DATABASE_URL;
  if (url) {
    process.stdout.write('tooken: API tests run on SQLite and on PostgreSQL (TOOKEN_TEST_DATABASE_URL)\n');
  } else {
    process.stdout.write(
      'tooken: API tests run on SQLite only; the PostgreSQL run was not requested (set TOOKEN_TEST_DATABASE_URL=postgres://… to add it)\n',
    );
  }
}
