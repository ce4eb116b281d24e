# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration: `cmake --install` into a temporary prefix gives a working module."""

import os
import pathlib
import subprocess
import sys

import pytest

BUILD = pathlib.Path(os.environ.get("COHERE_BUILD_DIR", "build")).resolve()


@pytest.mark.skipif(not (BUILD / "CMakeCache.txt").exists(), reason="needs a configured build tree")
def test_install_to_prefix(tmp_path):
    """Installing into a prefix puts the library, headers, Python package, GRC
    blocks and the `cohere` command where the README says, and the installed
    package imports and runs an emulator scenario without the build tree."""
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(prefix)],
                   check=True, capture_output=True)
    pydir = prefix / "lib" / f"python3.{sys.version_info.minor}" / "dist-packages"
    libdir = next(p.parent for p in prefix.glob("lib*/**/libgnuradio-cohere.so*"))
    assert (pydir / "gnuradio" / "cohere" / "__init__.py").exists()
    assert list((pydir / "gnuradio" / "cohere").glob("cohere_python*.so"))
    assert (prefix / "include" / "gnuradio" / "cohere" / "channel_hub.h").exists()
    assert (prefix / "share" / "gnuradio" / "grc" / "blocks" / "cohere_virtual_testbed.block.yml").exists()
    assert (prefix / "bin" / "cohere").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_LIBRARY_PATH")}
    env.update(PYTHONPATH=str(pydir), LD_LIBRARY_PATH=str(libdir))
    code = ("import numpy as np\n"
            "from gnuradio import cohere\n"
            "assert cohere.__file__.startswith(%r)\n"
            "hub = cohere.make_testbed(2, 1e6, 1e9, chain_gain_std_db=0, chain_phase_spread=0, initial_phase=0)\n"
            "rx = cohere.simulate(hub, {0: np.ones(1000)}, 1000, rx_nodes=[1])[1]\n"
            "assert np.allclose(rx, 1)\n" % str(pydir))
    subprocess.run(["/usr/bin/python3", "-c", code], check=True, env=env, cwd=tmp_path)
    out = subprocess.run([str(prefix / "bin" / "cohere"), "--help"], env=env,
                         capture_output=True, text=True, check=True)
    assert "usage: cohere" in out.stdout
