#!/usr/bin/env python3
"""Runs cargo for meson, then copies the built plugin libraries into meson's build dir.

usage: meson-cargo-build.py BUILD_DIR CARGO_OUT_DIR LIB... -- CARGO ARGS...
"""
import shutil
import subprocess
import sys
from pathlib import Path


def main() -> int:
    sep = sys.argv.index("--")
    build_dir, cargo_out, *libs = sys.argv[1:sep]
    cargo_cmd = sys.argv[sep + 1:]
    rc = subprocess.call(cargo_cmd)
    if rc != 0:
        return rc
    for lib in libs:
        src = Path(cargo_out) / lib
        if not src.exists():
            print(f"cargo did not produce {src}", file=sys.stderr)
            return 1
        shutil.copy2(src, Path(build_dir) / lib)
    return 0


if __name__ == "__main__":
    sys.exit(main())
