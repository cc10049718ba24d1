#!/usr/bin/env python3
"""Fails when meson's project version and the Cargo workspace version differ."""
import sys
import tomllib


def main() -> int:
    meson_version, cargo_toml = sys.argv[1], sys.argv[2]
    with open(cargo_toml, "rb") as f:
        cargo_version = tomllib.load(f)["workspace"]["package"]["version"]
    if cargo_version != meson_version:
        print(f"meson.build says {meson_version}, Cargo.toml says {cargo_version}: make them agree",
              file=sys.stderr)
        return 1
    print(f"versions agree: {cargo_version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
