"""A private vmpackd for the instance benchmarks (bench/resume, bench/scale).

It runs the build's vmpackd on a temporary runtime directory, with the data directory of
the build's integration tests (where 'meson test' imported the vmpack-test-shell image),
and purges the instances it installed when it ends.
"""
import glob
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_IMAGE = "vmpack-test-shell"


def log(name, message):
    print(f"bench/{name}: {message}", file=sys.stderr, flush=True)


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def add_arguments(parser):
    parser.add_argument("--accel", default="tcg", choices=["tcg", "kvm"], help="accelerator (default tcg)")
    parser.add_argument("--build-dir", default=os.path.join(SOURCE_ROOT, "build"),
                        help="meson build directory with src/vmpack/vmpack and src/vmpackd/vmpackd "
                             "(default build)")
    parser.add_argument("--image", default=DEFAULT_IMAGE,
                        help=f"store image to install (default {DEFAULT_IMAGE}, which the integration "
                             "tests import)")
    parser.add_argument("--data-dir", help="vmpack data directory with the image "
                                           "(default BUILD_DIR/test-data/data)")


class Session:
    def __init__(self, name, args):
        self.name = name
        args.build_dir = os.path.abspath(args.build_dir)
        if args.data_dir:
            args.data_dir = os.path.abspath(args.data_dir)
        self.vmpack = os.path.join(args.build_dir, "src/vmpack/vmpack")
        self.vmpackd = os.path.join(args.build_dir, "src/vmpackd/vmpackd")
        self.image = args.image
        self.tmp = tempfile.mkdtemp(prefix="vmpack-bench.", dir="/tmp")
        self.env = dict(os.environ)
        self.env["VMPACK_DATA_DIR"] = args.data_dir or os.path.join(args.build_dir, "test-data/data")
        self.env.setdefault("VMPACK_CACHE_DIR", os.path.join(args.build_dir, "test-data/cache"))
        self.env["VMPACK_RUNTIME_DIR"] = os.path.join(self.tmp, "run")
        self.env["VMPACK_CONFIG_DIR"] = os.path.join(self.tmp, "config")
        self.env["VMPACK_ACCEL"] = args.accel
        self.env["XDG_DATA_HOME"] = os.path.join(self.tmp, "xdg")
        self.accel = args.accel
        self.prefix = f"bench{os.getpid()}"
        self.instances = []
        self.daemon = None

    def __enter__(self):
        # __exit__ does not run when __enter__ fails, so clean up here before passing it on.
        try:
            return self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def _start(self):
        os.makedirs(self.env["VMPACK_RUNTIME_DIR"])
        images = self.call("images", capture=True)
        if not any(line.split()[:1] == [self.image] for line in images.splitlines()):
            sys.exit(f"bench/{self.name}: image {self.image} is not in {self.env['VMPACK_DATA_DIR']}: "
                     "run 'meson test -C BUILD_DIR test-instance-lifecycle' once, or pass --image")
        self.daemon_log = open(os.path.join(self.tmp, "vmpackd.log"), "w")
        self.daemon = subprocess.Popen([self.vmpackd], env=self.env, stdin=subprocess.DEVNULL,
                                       stdout=self.daemon_log, stderr=subprocess.STDOUT)
        socket_path = os.path.join(self.env["VMPACK_RUNTIME_DIR"], "vmpackd.sock")
        for _ in range(100):
            if os.path.exists(socket_path):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("vmpackd did not start")
        return self

    def __exit__(self, *exc):
        for name in self.instances:
            subprocess.run([self.vmpack, "kill", name], env=self.env, capture_output=True)
            subprocess.run([self.vmpack, "uninstall", "--purge", "-y", name], env=self.env, capture_output=True)
        if self.daemon:
            self.daemon.terminate()
            self.daemon.wait()
        subprocess.run(["rm", "-rf", "--one-file-system", self.tmp])

    def call(self, *argv, capture=False):
        result = subprocess.run([self.vmpack, *argv], env=self.env, text=True,
                                capture_output=True)
        if result.returncode != 0:
            raise RuntimeError(f"vmpack {' '.join(argv)} failed: {result.stderr.strip()}")
        return result.stdout if capture else None

    def install(self, suffix):
        name = f"{self.prefix}-{suffix}"
        self.call("install", "--no-desktop", "--data-size", "64M", self.image, name)
        self.instances.append(name)
        return name

    def app_log(self, name):
        return os.path.join(self.env["VMPACK_DATA_DIR"], "instances", name, "app.log")

    def instance_file(self, name, file):
        return os.path.join(self.env["VMPACK_DATA_DIR"], "instances", name, file)

    def wait_log_lines(self, name, count, limit_s=300):
        """Wait until app.log has at least count lines; return the time it was seen."""
        path = self.app_log(name)
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            try:
                with open(path, "rb") as f:
                    if f.read().count(b"\n") >= count:
                        return time.monotonic()
            except FileNotFoundError:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"{name} wrote fewer than {count} lines in {limit_s} s")

    def log_lines(self, name):
        with open(self.app_log(name), "rb") as f:
            return f.read().count(b"\n")

    def describe(self):
        qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                              text=True).stdout.splitlines()[0]
        print(f"machine:     {cpu_model()}, {os.cpu_count()} CPUs, {platform.node()}")
        print(f"accelerator: {self.accel}; host kernel {platform.release()}; {qemu}")
        print(f"image:       {self.image}, 256 MiB and 1 vCPU unless its recipe sets them")
