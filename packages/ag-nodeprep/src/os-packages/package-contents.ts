import { runProgram, type Io, type PackageFormat } from '@ag/core';

/**
 * The node paths a package file installs, read from the file itself
 * (`dpkg-deb --contents`, `rpm -qlp`): how the packages step tells later
 * steps, before anything is installed, whether the bundle's packages bring
 * containerd's unit or update-alternatives' backend.
 */
export async function packageFiles(file: string, format: PackageFormat, io: Pick<Io, 'env' | 'stderr'>): Promise<string[]> {
  const env = { ...io.env, LC_ALL: 'C' };
  if (format === 'rpm') {
    const result = await runProgram('rpm', ['--query', '--list', '--package', '--nosignature', '--nodigest', file], { env, stderr: io.stderr, streamStderr: false });
    return result.stdout.split('\n').filter((line) => line.startsWith('/'));
  }
  const result = await runProgram('dpkg-deb', ['--contents', file], { env, stderr: io.stderr, streamStderr: false });
  return parseDebContents(result.stdout);
}

/** `dpkg-deb --contents` lines (tar -tv style: mode owner size date time ./path[ -> target]) -> node paths. */
export function parseDebContents(text: string): string[] {
  const paths: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^\S+\s+\S+\s+\d+\s+\S+\s+\S+\s+\.(\/.*?)(?: -> .*)?$/.exec(line);
    if (match === null) continue;
    const path = match[1]!.replace(/\/$/, '');
    if (path !== '') paths.push(path);
  }
  return paths;
}
