import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
// The entry points, not the package root: the root also loads the validators (ajv, libxmljs2), which only the tests use.
import * as Enums from '@cyclonedx/cyclonedx-library/Enums';
import * as Models from '@cyclonedx/cyclonedx-library/Models';
import * as Serialize from '@cyclonedx/cyclonedx-library/Serialize';
import * as Spec from '@cyclonedx/cyclonedx-library/Spec';
import { PackageURL } from 'packageurl-js';
import { OciLayout, parseReference, withContext, type AgDocument, type FileArtifact, type StoredImage } from '@ag/core';

/** The SBOM's name in the bundle: a member like any other, so SHA256SUMS and its signature cover it. */
export const SBOM_FILE = 'sbom.cdx.json';

/**
 * CycloneDX 1.6: the newest spec version the library both writes and
 * validates that current readers (Dependency-Track 4.11+, Trivy, Grype,
 * cyclonedx-cli) take; 1.7 is newer than several of them read.
 */
export const SBOM_SPEC = Spec.Spec1dot6;

/**
 * Licences of the files ag plans, as each upstream states it in its
 * repository's LICENSE (checked 2026-12-03; containerd's and runc's added
 * 2026-12-04): kubernetes/kubernetes,
 * kubernetes/release (the kubelet unit and its kubeadm drop-in),
 * kubernetes-sigs/cri-tools, containernetworking/plugins, flannel-io/flannel,
 * helm/helm, derailed/k9s, containerd/containerd (its release archive and
 * containerd.service), opencontainers/runc. Files not named here get no licence: the SBOM
 * states none rather than a guess.
 */
const LICENCES: Readonly<Record<string, string>> = {
  kubeadm: 'Apache-2.0',
  kubelet: 'Apache-2.0',
  kubectl: 'Apache-2.0',
  'kubelet.service': 'Apache-2.0',
  '10-kubeadm.conf': 'Apache-2.0',
  crictl: 'Apache-2.0',
  'cni-plugins': 'Apache-2.0',
  flannel: 'Apache-2.0',
  'kube-flannel.yml': 'Apache-2.0',
  'flannel-cni-plugin': 'Apache-2.0',
  helm: 'Apache-2.0',
  k9s: 'Apache-2.0',
  containerd: 'Apache-2.0',
  'containerd.service': 'Apache-2.0',
  runc: 'Apache-2.0',
};

export interface SbomInput {
  document: AgDocument;
  /** The bundle root (images' layers are read from its layout). */
  root: string;
  /** The bundle's file name and (for a site) id: what the SBOM describes. */
  bundle: string;
  bundleId?: string;
  toolVersion: string;
  timestamp: Date;
}

function sha256Hashes(hex: string): Models.HashDictionary {
  return new Models.HashDictionary([[Enums.HashAlgorithm['SHA-256'], hex]]);
}

function properties(entries: Record<string, string | undefined>): Models.PropertyRepository {
  return new Models.PropertyRepository(
    Object.entries(entries)
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([name, value]) => new Models.Property(`ag:${name}`, value)),
  );
}

function fileComponent(file: FileArtifact): Models.Component {
  const url = file.source.upstreamUrl ?? file.source.url;
  const licence = LICENCES[file.name];
  return new Models.Component(Enums.ComponentType.File, file.name, {
    bomRef: `file:${file.path}`,
    ...(file.version === undefined ? {} : { version: file.version }),
    ...(file.sha256 === undefined ? {} : { hashes: sha256Hashes(file.sha256) }),
    purl: new PackageURL('generic', undefined, file.name, file.version, {
      download_url: url,
      ...(file.sha256 === undefined ? {} : { checksum: `sha256:${file.sha256}` }),
    }).toString(),
    externalReferences: new Models.ExternalReferenceRepository([
      new Models.ExternalReference(url, Enums.ExternalReferenceType.Distribution, { comment: 'where upstream publishes it' }),
    ]),
    ...(licence === undefined ? {} : { licenses: new Models.LicenseRepository([new Models.SpdxLicense(licence)]) }),
    properties: properties({ path: file.path, kind: file.kind, arch: file.arch, sha256From: file.sha256From }),
  });
}

/** `linux/arm64/v8` -> its architecture, `arm64`. */
function architectureOf(platform: string): string {
  return platform.split('/')[1] ?? platform;
}

/**
 * An image: the reference and the digest kept, and per platform its
 * manifest with the layers (read from the bundle's layout), as nested
 * components.
 */
async function imageComponent(image: StoredImage, layout: OciLayout | undefined): Promise<Models.Component> {
  const ref = parseReference(image.ref);
  const name = ref.repository.split('/').at(-1)!;
  const repositoryUrl = `${ref.registry}/${ref.repository}`;
  const purl = (digest: string, extra: Record<string, string> = {}): string =>
    new PackageURL('oci', undefined, name, digest, { repository_url: repositoryUrl, ...(ref.tag === undefined ? {} : { tag: ref.tag }), ...extra }).toString();
  const platforms = new Models.ComponentRepository();
  for (const manifest of image.manifests) {
    const layers = new Models.ComponentRepository();
    if (layout !== undefined) {
      const { parsed } = await layout.readManifest({ digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.size }).catch((error: unknown) => {
        throw withContext(`reading the manifest of ${image.ref} for ${manifest.platform}`, error);
      });
      if (parsed.kind === 'manifest') {
        parsed.manifest.layers.forEach((layer, index) => {
          layers.add(
            new Models.Component(Enums.ComponentType.Data, layer.digest, {
              bomRef: `layer:${manifest.digest}:${index}`,
              hashes: sha256Hashes(layer.digest.slice('sha256:'.length)),
              properties: properties({ mediaType: layer.mediaType, size: String(layer.size), position: String(index) }),
            }),
          );
        });
      }
    }
    platforms.add(
      new Models.Component(Enums.ComponentType.Container, `${name} ${manifest.platform}`, {
        bomRef: `image:${image.ref}@${manifest.digest}`,
        version: manifest.digest,
        hashes: sha256Hashes(manifest.digest.slice('sha256:'.length)),
        purl: purl(manifest.digest, { arch: architectureOf(manifest.platform) }),
        components: layers,
        properties: properties({ platform: manifest.platform, mediaType: manifest.mediaType }),
      }),
    );
  }
  return new Models.Component(Enums.ComponentType.Container, name, {
    bomRef: `image:${image.ref}`,
    group: ref.registry,
    version: image.digest,
    hashes: sha256Hashes(image.digest.slice('sha256:'.length)),
    purl: purl(image.digest),
    components: platforms,
    properties: properties({
      reference: image.ref,
      upstreamDigest: image.upstreamDigest,
      partial: String(image.partial),
      platforms: image.manifests.map((manifest) => manifest.platform).join(', '),
    }),
  });
}

/** The distribution's name in a package URL: `debian-12` is `debian`, with `distro=debian-12`. */
function osPackages(document: AgDocument): Models.Component[] {
  const section = document.packages;
  if (section?.closure === undefined) return [];
  const [distribution] = section.os.split('-');
  const sources = (section.sources ?? []).map(
    (source) =>
      new Models.ExternalReference(source.uri, Enums.ExternalReferenceType.Distribution, {
        comment: `a repository the closure was resolved against: ${source.name}${source.suite === undefined ? '' : ` (${source.suite}${source.components === undefined ? '' : ` ${source.components.join(' ')}`})`}`,
      }),
  );
  return section.closure.map(
    (pkg) =>
      new Models.Component(Enums.ComponentType.Library, pkg.name, {
        bomRef: `package:${pkg.path}`,
        version: pkg.version,
        hashes: sha256Hashes(pkg.sha256),
        purl: new PackageURL(section.format, distribution ?? section.os, pkg.name, pkg.version, { arch: pkg.arch, distro: section.os }).toString(),
        externalReferences: new Models.ExternalReferenceRepository(sources),
        properties: properties({ path: pkg.path, arch: pkg.arch, size: String(pkg.size) }),
      }),
  );
}

/**
 * The bundle's bill of materials, CycloneDX JSON written with the CycloneDX
 * library: every file the document fetched (name, version, download URL,
 * sha256, licence where known), every image (reference, digest, platforms
 * and their layers) and every OS package (name, version, architecture, the
 * repositories it was resolved from). The ag tools and the bundle's own
 * files are not components: SHA256SUMS lists them.
 */
export async function buildSbom(input: SbomInput): Promise<Buffer> {
  const { document } = input;
  const bom = new Models.Bom({ serialNumber: `urn:uuid:${randomUUID()}` });
  bom.metadata.timestamp = input.timestamp;
  bom.metadata.tools.components.add(new Models.Component(Enums.ComponentType.Application, 'ag-bundle', { version: input.toolVersion }));
  bom.metadata.component = new Models.Component(Enums.ComponentType.Data, input.bundle, {
    bomRef: 'bundle',
    description: 'an ag bundle: what crosses to the air-gapped side',
    ...(input.bundleId === undefined ? {} : { version: input.bundleId }),
    ...(document.cluster?.kubernetesVersion === undefined ? {} : { properties: properties({ kubernetesVersion: document.cluster.kubernetesVersion }) }),
  });
  for (const file of document.fetch?.files ?? []) bom.components.add(fileComponent(file));
  const images = document.images;
  if (images !== undefined && images.images.length > 0) {
    const layout = await OciLayout.open(join(input.root, images.layout)).catch(() => undefined);
    for (const image of images.images) bom.components.add(await imageComponent(image, layout));
  }
  for (const component of osPackages(document)) bom.components.add(component);
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(SBOM_SPEC));
  return Buffer.from(`${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`);
}
