#!/usr/bin/python3
# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the per-family loopback example flowgraphs (examples/radio_*_loopback.grc)
with GNU Radio Companion's own machinery, so they are exactly what GRC saves.

Each flowgraph streams a repeating Zadoff-Chu burst (the calibrate-latency
waveform) out of a node's radio and records what the radio receives, with the
OFDM pilot estimator's conventions left to the protocol examples. Run again
after changing a radio family's defaults:

    GRC_BLOCKS_PATH=grc /usr/bin/python3 tools/make_radio_examples.py
"""

import os
import sys

from gnuradio import gr
from gnuradio.grc.core import Constants
from gnuradio.grc.core.platform import Platform

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZC = "list(0.5 * numpy.exp(-1j * numpy.pi * 7 * numpy.arange(251) * numpy.arange(1, 252) / 251)) + [0] * 20229"

FAMILIES = {
    "uhd": {
        "title": "USRP loopback (calibrate-latency waveform)",
        "source": ("uhd_usrp_source", {"dev_addr": '"type=b200"', "samp_rate": "samp_rate",
                                        "center_freq0": "center_freq", "gain0": "30",
                                        "sync": "none", "start_time": "-1.0"}),
        "sink": ("uhd_usrp_sink", {"dev_addr": '"type=b200"', "samp_rate": "samp_rate",
                                    "center_freq0": "center_freq", "gain0": "50",
                                    "sync": "none", "start_time": "-1.0", "len_tag_name": '""'}),
        # GRC's UHD blocks cannot reset the device time to 0, and a start time
        # in PC-clock seconds would differ between TX and RX: both stream at once
        "doc": "Device type=b200 (USB only); TX and RX stream from the start of the flowgraph "
               "(for a common start and a measured L: ./cohere calibrate-latency).",
    },
    "pluto": {
        "title": "ADALM-Pluto loopback (calibrate-latency waveform)",
        "source": ("iio_pluto_source", {"uri": '"usb:"', "samplerate": "int(samp_rate)",
                                         "frequency": "int(center_freq)", "gain1": "'manual'",
                                         "manual_gain1": "30", "buffer_size": "32768",
                                         "len_tag_key": '""'}),
        "sink": ("iio_pluto_sink", {"uri": '"usb:"', "samplerate": "int(samp_rate)",
                                     "frequency": "int(center_freq)", "attenuation1": "10",
                                     "buffer_size": "32768", "len_tag_key": '""'}),
        "doc": "Set uri to your Pluto (usb:bus.addr.port); manual gain, continuous buffers.",
    },
    "soapy": {
        "title": "SoapySDR loopback (calibrate-latency waveform)",
        "source": ("soapy_custom_source", {"driver": '"lime"', "samp_rate": "samp_rate",
                                            "center_freq0": "center_freq", "gain0": "30"}),
        "sink": ("soapy_custom_sink", {"driver": '"lime"', "samp_rate": "samp_rate",
                                        "center_freq0": "center_freq", "gain0": "40"}),
        "doc": "Driver lime (LimeSDR); change driver and gains for Iris or bladeRF.",
    },
}


def set_params(block, params):
    for key, value in params.items():
        if key not in block.params:
            raise KeyError(f"{block.key}: no parameter {key!r}")
        block.params[key].set_value(value)


def make(platform, family, spec):
    fg = platform.make_flow_graph()
    opts = fg.options_block
    set_params(opts, {"id": f"radio_{family}_loopback", "title": spec["title"],
                      "generate_options": "no_gui", "run_options": "run",
                      "author": "The gr-cohere authors", "copyright": "2026 The gr-cohere authors",
                      "description": spec["doc"] + " Records RX to rx_" + family + ".cfile."})
    positions = iter([(8, 120), (8, 200), (8, 280), (200, 120), (400, 120), (200, 280), (400, 280)])

    def add(key, params):
        blk = fg.new_block(key)
        params = dict(params)
        params.setdefault("id", f"{key}_0")
        set_params(blk, params)
        blk.states["coordinate"] = next(positions)
        return blk

    add("variable", {"id": "samp_rate", "value": "1e6"})
    add("variable", {"id": "center_freq", "value": "915e6"})
    add("import", {"imports": "import numpy"})
    zc = add("blocks_vector_source_x", {"type": "complex", "vector": ZC, "repeat": "True"})
    sink = add(spec["sink"][0], spec["sink"][1])
    src = add(spec["source"][0], spec["source"][1])
    rec = add("blocks_file_sink", {"type": "complex", "file": f'"rx_{family}.cfile"'})
    stream = lambda ports: next(p for p in ports if p.domain == "stream")
    fg.connect(stream(zc.sources), stream(sink.sinks))
    fg.connect(stream(src.sources), stream(rec.sinks))
    fg.rewrite()
    fg.validate()
    errors = fg.get_error_messages()
    if errors:
        raise SystemExit(f"{family}: flowgraph does not validate:\n  " + "\n  ".join(errors))
    path = os.path.join(ROOT, "examples", f"radio_{family}_loopback.grc")
    platform.save_flow_graph(path, fg)
    print(f"wrote {path}")


def main():
    Constants.CACHE_FILE = os.devnull
    platform = Platform(name="gr-cohere examples", prefs=gr.prefs(), version=gr.version(),
                        version_parts=(gr.major_version(), gr.api_version(), gr.minor_version()))
    platform.build_library(list(platform.config.block_paths) + [os.path.join(ROOT, "grc")])
    for family, spec in FAMILIES.items():
        make(platform, family, spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
