#!/usr/bin/python3
# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write examples/pcp_three_nodes.grc with GNU Radio Companion's own machinery,
so it is exactly what GRC saves:

    GRC_BLOCKS_PATH=grc /usr/bin/python3 tools/make_pcp_example.py

A fusion node and three PCP nodes on the Virtual Testbed (oscillator offsets,
phase noise, positions 5..20 m away, noise), rounds = 12; the fusion node's
per-round results are printed by a Message Debug block, and the flowgraph
ends by itself after the last round.
"""

import os

from gnuradio import gr
from gnuradio.grc.core import Constants
from gnuradio.grc.core.platform import Platform

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    Constants.CACHE_FILE = os.devnull
    platform = Platform(name="gr-cohere examples", prefs=gr.prefs(), version=gr.version(),
                        version_parts=(gr.major_version(), gr.api_version(), gr.minor_version()))
    platform.build_library(list(platform.config.block_paths) + [os.path.join(ROOT, "grc")])
    fg = platform.make_flow_graph()
    fg.import_data(platform.parse_flow_graph(None))
    opts = fg.options_block.params
    opts["id"].set_value("pcp_three_nodes")
    opts["title"].set_value("Phase-coded pilots: fusion node + 3 nodes on the virtual testbed")
    opts["author"].set_value("The gr-cohere authors")
    opts["copyright"].set_value("2026 The gr-cohere authors")
    opts["description"].set_value(
        "Sahin's phase-coded pilots and over-the-air computation: node 0 is the fusion "
        "node, nodes 1..3 answer in slots 1..3; 12 rounds (CFO acquisition, ranging, then "
        "10 OAC rounds), the fusion's sums printed per round; ends by itself.")
    opts["generate_options"].set_value("no_gui")
    opts["run_options"].set_value("run")
    y = [8]

    def add(key, name, params, x=None):
        blk = fg.new_block(key)
        blk.params["id"].set_value(name)
        for k, v in params.items():
            if k not in blk.params:
                raise KeyError(f"{key}: no parameter {k}")
            blk.params[k].set_value(v)
        blk.states["coordinate"] = (x if x is not None else 8, y[0])
        y[0] += 100
        return blk

    fg.get_block("samp_rate").params["value"].set_value("5e6")
    add("variable", "rounds", {"value": "12"}, x=200)
    add("cohere_pcp_config", "cohere_pcp_config_0", {"num_nodes": "3"}, x=400)
    add("cohere_virtual_testbed", "cohere_virtual_testbed_0", {
        "num_nodes": "4", "center_freq": "cohere_pcp_config_0.center_freq",
        "seed": "7", "ppm": "[1.5, -6.0, 8.5, -3.0]", "phase_noise": "1e-20",
        "positions": "[(0, 0), (5, 3), (-12, 4), (2, -20)]", "noise_power": "1e-9"}, x=600)
    nsamples = "cohere_pcp_config_0.samples_for(rounds)"
    y[0] = 200
    src0 = add("cohere_virtual_radio_source_c", "rx_fusion",
               {"node": "0", "nsamples": nsamples}, x=8)
    y[0] -= 100
    fusion = add("cohere_pcp_fusion", "fusion", {"rounds": "rounds"}, x=300)
    y[0] -= 100
    snk0 = add("cohere_virtual_radio_sink_c", "tx_fusion", {"node": "0"}, x=600)
    dbg = add("blocks_message_debug", "results", {}, x=600)
    fg.connect(src0.sources[0], fusion.sinks[0])
    fg.connect(fusion.sources[0], snk0.sinks[0])
    fg.connect(fusion.sources[1], dbg.sinks[0])
    for k in (1, 2, 3):
        src = add("cohere_virtual_radio_source_c", f"rx_node{k}",
                  {"node": str(k), "nsamples": nsamples}, x=8)
        y[0] -= 100
        node = add("cohere_pcp_node", f"node{k}", {"slot": str(k), "seed": str(k)}, x=300)
        y[0] -= 100
        snk = add("cohere_virtual_radio_sink_c", f"tx_node{k}", {"node": str(k)}, x=600)
        fg.connect(src.sources[0], node.sinks[0])
        fg.connect(node.sources[0], snk.sinks[0])
    fg.rewrite()
    fg.validate()
    errors = fg.get_error_messages()
    if errors:
        raise SystemExit("GRC errors:\n" + "\n".join(errors))
    path = os.path.join(ROOT, "examples", "pcp_three_nodes.grc")
    platform.save_flow_graph(path, fg)
    print(path)


if __name__ == "__main__":
    main()
