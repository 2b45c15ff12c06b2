#!/usr/bin/env python3
"""Tests the filter's OCI image (image/build_image.py): two builds are byte-identical, the image
has the shape Istio's Wasm fetcher takes, and a real registry (Debian's docker-registry, private,
on loopback) given it by a real client (skopeo) gives back the same digest and the same .wasm.

  python3 image/test_image.py [file.wasm]   (or ACTORWATCH_FILTER_WASM; default: the release build)
"""
import gzip
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the checkout
import build_image  # noqa: E402

DEFAULT_WASM = os.path.join(os.path.dirname(HERE),
                            'target/wasm32-wasip1/release/actorwatch_filter.wasm')
REPO = 'actorwatch-filter'
TAG = 'test'
REGISTRY_START_SECS = 30


def fail(message):
    sys.exit(f'test_image: FAIL: {message}')


def check(condition, message):
    if not condition:
        fail(message)


def build(wasm_path, out):
    run = subprocess.run([sys.executable, os.path.join(HERE, 'build_image.py'), '--wasm', wasm_path,
                          '--out', out, '--tag', TAG], capture_output=True, text=True)
    check(run.returncode == 0, f'build_image.py failed:\n{run.stderr}')
    printed = dict(line.split(' ', 1) for line in run.stdout.splitlines())
    return printed['manifest'], printed['wasm']


def read_tree(root):
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, 'rb') as f:
                files[os.path.relpath(path, root)] = f.read()
    return files


def blob(layout, digest):
    with open(os.path.join(layout, 'blobs', *digest.split(':', 1)), 'rb') as f:
        data = f.read()
    check(build_image.sha256(data) == digest, f'{layout}: blob {digest} does not match its digest')
    return data


def manifest_of(layout):
    """The digest and the parsed manifest of the layout's only image, tagged TAG."""
    with open(os.path.join(layout, 'index.json'), 'rb') as f:
        (entry,) = json.load(f)['manifests']
    check(entry['annotations']['org.opencontainers.image.ref.name'] == TAG, f'{layout}: tag is not {TAG}')
    return entry['digest'], json.loads(blob(layout, entry['digest']))


def unpack_wasm(layout):
    """What Istio's fetcher does with a compat image: one tar+gzip layer, plugin.wasm in it."""
    _, manifest = manifest_of(layout)
    check(manifest['annotations'] == build_image.VARIANT_ANNOTATION, f'{layout}: no compat annotation')
    (layer,) = manifest['layers']
    check(layer['mediaType'] == build_image.LAYER_TYPE, f'{layout}: layer type {layer["mediaType"]}')
    data = blob(layout, layer['digest'])
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        member = next((m for m in tar if os.path.basename(m.name) == 'plugin.wasm'), None)
        check(member is not None, f'{layout}: no plugin.wasm in the layer')
        return tar.extractfile(member).read(), data


def free_loopback_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# urllib would honour http_proxy; the registry is on loopback, so no proxy, ever.
http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def start_registry(workdir):
    port = free_loopback_port()
    config = os.path.join(workdir, 'registry.yml')
    with open(config, 'w') as f:
        f.write(f"""version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {workdir}/storage
http:
  addr: 127.0.0.1:{port}
  secret: actorwatch-image-test
""")
    log_path = os.path.join(workdir, 'registry.log')
    # REGISTRY_* variables would override the config file.
    env = {k: v for k, v in os.environ.items() if not k.startswith('REGISTRY_')}
    with open(log_path, 'wb') as log:
        proc = subprocess.Popen(['/usr/bin/docker-registry', 'serve', config], stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return proc, port, log_path


def wait_for_registry(proc, port, log_path):
    deadline = time.monotonic() + REGISTRY_START_SECS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f'docker-registry exited ({proc.returncode}):\n{open(log_path).read()}')
        try:
            with http.open(f'http://127.0.0.1:{port}/v2/', timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    fail(f'docker-registry did not answer /v2/ within {REGISTRY_START_SECS}s:\n{open(log_path).read()}')


def skopeo(policy, *args):
    # Proxies off (loopback only); --policy: accept anything, without the machine's policy file.
    env = {k: v for k, v in os.environ.items() if 'proxy' not in k.lower()}
    run = subprocess.run(['skopeo', '--policy', policy, 'copy', '--quiet', '--preserve-digests', *args],
                         capture_output=True, text=True, env=env)
    check(run.returncode == 0, f'skopeo copy {" ".join(args)} failed:\n{run.stderr}')


def registry_digest(port):
    request = urllib.request.Request(
        f'http://127.0.0.1:{port}/v2/{REPO}/manifests/{TAG}', method='HEAD',
        headers={'Accept': build_image.MANIFEST_TYPE})
    with http.open(request, timeout=10) as reply:
        check(reply.headers.get('Content-Type') == build_image.MANIFEST_TYPE,
              f'registry serves the manifest as {reply.headers.get("Content-Type")}')
        return reply.headers['Docker-Content-Digest']


def main():
    started = time.monotonic()
    wasm_path = (sys.argv[1:] or [os.environ.get('ACTORWATCH_FILTER_WASM') or DEFAULT_WASM])[0]
    if not os.path.isfile(wasm_path):
        fail(f'no .wasm at {wasm_path} (run make build, or pass a .wasm path)')
    with open(wasm_path, 'rb') as f:
        wasm = f.read()

    with tempfile.TemporaryDirectory(prefix='actorwatch-image-') as workdir:
        first, second = os.path.join(workdir, 'first'), os.path.join(workdir, 'second')
        digest, wasm_digest = build(wasm_path, first)
        check(build(wasm_path, second) == (digest, wasm_digest), 'two builds print different digests')
        first_files, second_files = read_tree(first), read_tree(second)
        check(first_files == second_files, 'two builds wrote different files: '
              + ', '.join(sorted(p for p in first_files.keys() | second_files.keys()
                                 if first_files.get(p) != second_files.get(p))))
        check(wasm_digest == build_image.sha256(wasm), 'printed wasm digest is not the file\'s')
        check(manifest_of(first)[0] == digest, 'printed manifest digest is not index.json\'s')
        unpacked, layer = unpack_wasm(first)
        check(unpacked == wasm, 'plugin.wasm in the built layer differs from the .wasm')
        # gzip header: mtime 0 (bytes 4-7) and no FNAME flag (bit 3 of byte 3).
        check(layer[4:8] == b'\0\0\0\0' and not layer[3] & 0x08, 'gzip header has a time or a file name')
        print(f'build: two builds identical, {len(first_files)} files')

        policy = os.path.join(workdir, 'policy.json')
        with open(policy, 'w') as f:
            json.dump({'default': [{'type': 'insecureAcceptAnything'}]}, f)
        proc, port, log_path = start_registry(workdir)
        try:
            wait_for_registry(proc, port, log_path)
            remote = f'docker://127.0.0.1:{port}/{REPO}:{TAG}'
            skopeo(policy, '--dest-tls-verify=false', '--dest-no-creds', f'oci:{first}:{TAG}', remote)
            served_digest = registry_digest(port)
            pulled = os.path.join(workdir, 'pulled')
            skopeo(policy, '--src-tls-verify=false', '--src-no-creds', remote, f'oci:{pulled}:{TAG}')
        finally:
            proc.kill()
            proc.wait()

        check(served_digest == digest, f'registry has {served_digest}, the build {digest}')
        pulled_digest, _ = manifest_of(pulled)
        check(pulled_digest == digest, f'pulled manifest {pulled_digest}, built {digest}')
        pulled_wasm, pulled_layer = unpack_wasm(pulled)
        check(pulled_layer == layer, 'pulled layer differs from the built one')
        check(pulled_wasm == wasm, 'pulled plugin.wasm differs from the .wasm')

    print(f'wasm: {wasm_path}, {len(wasm)} bytes, {wasm_digest}')
    print(f'layer: {len(layer)} bytes (tar+gzip)')
    print(f'manifest: {digest} (built = pushed = served by the registry = pulled)')
    print(f'test_image: ok in {time.monotonic() - started:.1f}s')


if __name__ == '__main__':
    main()
