#!/usr/bin/env python3
"""Packs the filter's .wasm as an OCI image layout in the *compat* variant of the Wasm image
specification, which Istio's WasmPlugin pulls: one tar+gzip layer holding plugin.wasm.
Reproducible: the same .wasm (and SOURCE_DATE_EPOCH) gives the same bytes, so the same digest.

  python3 image/build_image.py --wasm <file.wasm> --out <dir> [--tag <tag>] [--tar <file.tar>]
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile

MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json'
INDEX_TYPE = 'application/vnd.oci.image.index.v1+json'
CONFIG_TYPE = 'application/vnd.oci.image.config.v1+json'
# Istio's fetcher takes a single layer of exactly this type as the compat variant.
LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip'
# The compat spec requires this annotation when the layer type is the OCI one.
VARIANT_ANNOTATION = {'module.wasm.image/variant': 'compat'}
WASM_MAGIC = b'\0asm'


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(',', ':')).encode()


def sha256(data):
    return 'sha256:' + hashlib.sha256(data).hexdigest()


def tar_bytes(files, mtime):
    """A ustar archive of {name: bytes}, sorted, with no owner, time or mode of the build machine."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), mtime, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ''
            tar.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def image_blobs(wasm, mtime):
    """The image's blobs {digest: bytes} and its manifest's digest."""
    layer_tar = tar_bytes({'plugin.wasm': wasm}, mtime)
    # mtime in the gzip header, and gzip.compress writes no file name.
    layer = gzip.compress(layer_tar, compresslevel=9, mtime=mtime)
    config = canonical_json({
        'architecture': 'wasm',
        'os': 'wasip1',
        'rootfs': {'type': 'layers', 'diff_ids': [sha256(layer_tar)]},
    })
    manifest = canonical_json({
        'schemaVersion': 2,
        'mediaType': MANIFEST_TYPE,
        'config': {'mediaType': CONFIG_TYPE, 'digest': sha256(config), 'size': len(config)},
        'layers': [{'mediaType': LAYER_TYPE, 'digest': sha256(layer), 'size': len(layer)}],
        'annotations': VARIANT_ANNOTATION,
    })
    blobs = {sha256(b): b for b in (layer, config, manifest)}
    return blobs, sha256(manifest)


def layout_files(wasm, tag, mtime):
    """The files of an OCI image layout {relative path: bytes}, and the manifest's digest."""
    blobs, manifest_digest = image_blobs(wasm, mtime)
    index = canonical_json({
        'schemaVersion': 2,
        'mediaType': INDEX_TYPE,
        'manifests': [{
            'mediaType': MANIFEST_TYPE,
            'digest': manifest_digest,
            'size': len(blobs[manifest_digest]),
            'annotations': {'org.opencontainers.image.ref.name': tag},
        }],
    })
    files = {'oci-layout': canonical_json({'imageLayoutVersion': '1.0.0'}), 'index.json': index}
    for digest, data in blobs.items():
        files['blobs/sha256/' + digest.split(':', 1)[1]] = data
    return files, manifest_digest


def write_layout(files, out):
    # Start from an empty directory so no blob of an earlier build is left behind, but never
    # delete a directory that is not an image layout.
    if os.path.isdir(out) and os.listdir(out):
        if not os.path.isfile(os.path.join(out, 'oci-layout')):
            sys.exit(f'build_image: {out} is not empty and not an OCI image layout; not replacing it')
        shutil.rmtree(out)
    for path, data in files.items():
        full = os.path.join(out, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'wb') as f:
            f.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--wasm', required=True, help='the .wasm module to pack')
    parser.add_argument('--out', required=True, help='the OCI image layout directory to write')
    parser.add_argument('--tag', default='latest', help='the tag in index.json (default: latest)')
    parser.add_argument('--tar', help='also write the layout as a reproducible tarball (oci-archive)')
    args = parser.parse_args()

    if not os.path.isfile(args.wasm):
        sys.exit(f'build_image: no .wasm at {args.wasm} (run make build)')
    with open(args.wasm, 'rb') as f:
        wasm = f.read()
    # Istio refuses a module without the magic number, after the pull; refuse it here instead.
    if len(wasm) < 8 or not wasm.startswith(WASM_MAGIC):
        sys.exit(f'build_image: {args.wasm} is not a WebAssembly module')
    mtime = int(os.environ.get('SOURCE_DATE_EPOCH') or 0)

    files, manifest_digest = layout_files(wasm, args.tag, mtime)
    write_layout(files, args.out)
    if args.tar:
        with open(args.tar, 'wb') as f:
            f.write(tar_bytes(files, mtime))
    print(f'manifest {manifest_digest}')
    print(f'wasm {sha256(wasm)}')


if __name__ == '__main__':
    main()
