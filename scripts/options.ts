/**
 * The number after `name` in a script's arguments (`--rounds 5`), or `fallback`
 * when it is absent. Anything but a positive number (an integer where
 * `integer`) ends the script with a one-line message and exit code 2.
 */
export function numberOption(argv: readonly string[], name: string, fallback: number, integer = false): number {
  const at = argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(argv[at + 1]);
  if (!(value > 0) || (integer && !Number.isInteger(value))) {
    console.error(`${name} must be a positive ${integer ? 'integer' : 'number'} (got ${argv[at + 1] ?? 'nothing'})`);
    process.exit(2);
  }
  return value;
}
