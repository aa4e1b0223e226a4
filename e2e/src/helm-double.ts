import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface HelmDoubleOptions {
  /** containerd's socket and the certs.d directory its pulls go through (the mirrors ag-registry trust wrote). */
  containerdSocket: string;
  hostsDir: string;
  platform: string;
}

/**
 * A helm double for the netns world, where no cluster runs: `helm upgrade
 * --install RELEASE CHART.tgz [--wait] [--timeout DURATION]`, the one
 * command the trip gives Helm. It holds Helm's input rules (Helm v3.12):
 *
 * - `upgrade` takes exactly a release name and a chart (cmd/helm/upgrade.go:
 *   `Args: require.ExactArgs(2)`); `--install` is what lets it install;
 * - the release name is a DNS-1123 label of at most 53 characters
 *   (pkg/chartutil/validate_name.go: ValidateReleaseName);
 * - `--timeout` is a Go duration (pflag DurationVar);
 * - the chart archive holds CHART/Chart.yaml with apiVersion v2, a name and
 *   a SemVer version (pkg/chart/metadata.go: Validate);
 *
 * and "installs" what it can here: the image values.yaml names
 * (`image.repository:image.tag`, as podinfo's chart renders it), pulled by
 * that upstream name by containerd through the mirrors, and run once.
 */
export function helmDoubleScript(options: HelmDoubleOptions): string {
  return `#!/bin/sh
# helm v3.12 contract double (ag e2e, e2e/src/helm-double.ts); not the real program.
set -eu
fail() { echo "Error: $*" >&2; exit 1; }
[ "\${1:-}" = upgrade ] || fail "the helm double knows only: helm upgrade --install RELEASE CHART [--wait] [--timeout DURATION]"
shift
install=false args=""
while [ $# -gt 0 ]; do
  case "$1" in
    --install|-i) install=true ;;
    --wait) ;;
    --timeout) [ $# -ge 2 ] || fail 'flag needs an argument: --timeout'
      echo "$2" | grep -Eq '^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$' || fail "invalid argument \\"$2\\" for \\"--timeout\\" flag: time: invalid duration \\"$2\\""
      shift ;;
    -*) fail "unknown flag: $1" ;;
    *) args="$args $1" ;;
  esac
  shift
done
set -- $args
[ $# -eq 2 ] || fail "\\"helm upgrade\\" requires 2 arguments"
release=$1 chart=$2
[ "$install" = true ] || fail "\\"$release\\" has no deployed releases"
if [ \${#release} -gt 53 ] || ! echo "$release" | grep -Eq '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'; then
  fail "invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ and the length must not be longer than 53"
fi
[ -f "$chart" ] || fail "path \\"$chart\\" not found"
meta=$(tar -xzOf "$chart" --wildcards '*/Chart.yaml' 2>/dev/null) || fail "Chart.yaml file is missing"
field() { printf '%s\\n' "$1" | sed -n "s/^$2: *//p" | head -1; }
[ "$(field "$meta" apiVersion)" = v2 ] || fail "validation: chart.metadata.apiVersion is required (v2)"
name=$(field "$meta" name); version=$(field "$meta" version)
[ -n "$name" ] || fail "validation: chart.metadata.name is required"
echo "$version" | grep -Eq '^v?[0-9]+\\.[0-9]+\\.[0-9]+' || fail "validation: chart.metadata.version \\"$version\\" is invalid"
values=$(tar -xzOf "$chart" "$name/values.yaml")
repository=$(printf '%s\\n' "$values" | sed -n 's/^  repository: *//p' | head -1)
tag=$(printf '%s\\n' "$values" | sed -n 's/^  tag: *//p' | head -1)
image="$repository:$tag"
ctr --address ${options.containerdSocket} -n default images pull --hosts-dir ${options.hostsDir} --platform ${options.platform} "$image" >&2
ctr --address ${options.containerdSocket} -n default run --rm "$image" "helm-$release-$$" >&2
echo "Release \\"$release\\" has been upgraded. Happy Helming!"
echo "NAME: $release"
echo "CHART: $name-$version"
echo "IMAGE: $image"
`;
}

export async function writeHelmDouble(path: string, options: HelmDoubleOptions): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, helmDoubleScript(options));
  await chmod(path, 0o755);
}
