# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The over-the-air emulator across processes: one `cohere hub` serves its
channel_hub to node processes over ZeroMQ (docs/multiprocess.md).

Hub side (HubServer, one flowgraph): per node
    virtual_radio_source_c -> hub_rx_forwarder    (RX samples to the node)
    hub_tx_feeder -> virtual_radio_sink_c         (TX samples from the node)
Node side (HubConnection, in the node's flowgraph): hub_rx_source is the
node's RX source, hub_tx_sink its TX sink: the `sim` radio across processes.

Sessions and time. A node joins (REQ/REP on the hub's control endpoint) and
gets a session number and a start time n0 on the hub's clock: its RX sample m
is the hub's RX sample n0 + m, and its TX sample m goes on the air at hub
time n0 + m (plus the latency L of its hub node, as in one process). The
first join of every node happens before streaming (the hub waits for all of
them, up to join_timeout), so n0 = 0 and a run is the same, sample for
sample, as the single-process emulator. A node joining later (a restart)
starts where the hub is: n0 = max(TX samples the hub has taken for it, RX
samples it has produced for it).

Silence. The hub's receivers wait for every transmitter, so a dead node
would stop the air. A node whose TX is the oldest the hub holds and which has
delivered nothing for `timeout` seconds is declared silent: from then on it
transmits zeros and its RX is dropped, until it joins again. A node that
ends its stream says so (an end frame) and is silent at once.

Frames (two-part ZeroMQ messages, PUSH/PULL, one socket pair per node):
header struct <4sBBHIQI: magic b"CHB1", kind (0 data, 1 end), nchan, reason
(end frames: 0 the run's end, 1 the hub declared the node silent, 2 another
join replaced the session; 0 in data frames), session, offset (samples since
the session's start), count; then the samples as complex64, channel after
channel. Frames of another session are dropped, so a late frame of a dead
process never reaches the air. Malformed frames (also: another channel count
than the node's) are counted, logged (rate-limited) and dropped.
"""

import json
import struct
import threading
import time

import numpy as np
import pmt
import zmq
from gnuradio import gr

from .logs import GrLogAdapter, RateLimitedWarning, block_loggers

__all__ = ["HubServer", "HubConnection", "HubError", "hub_rx_forwarder", "hub_tx_feeder",
           "hub_rx_source", "hub_tx_sink"]

MAGIC = b"CHB1"
HEADER = struct.Struct("<4sBBHIQI")
DATA, END = 0, 1
END_RUN, END_SILENCED, END_REPLACED = 0, 1, 2  # reason of an end frame
END_REASONS = {END_RUN: "hub", END_SILENCED: "silenced", END_REPLACED: "replaced"}
POLL_MS = 50  # longest wait inside one work() call, so flowgraphs stop promptly
MAX_FRAME = 16384  # samples per channel per frame
SILENCE_AHEAD = 4 * MAX_FRAME  # zeros of a silent node ahead of the slowest other node
WARN_INTERVAL_S = 5.0  # at most one warning per kind and interval (malformed input)


class HubError(RuntimeError):
    """The hub cannot be reached or refused a node (one-line message)."""


def _pack(kind, nchan, session, offset, samples=None, reason=END_RUN):
    if samples is None:
        return [HEADER.pack(MAGIC, kind, nchan, reason, session, offset, 0), b""]
    count = samples.shape[1]
    return [HEADER.pack(MAGIC, kind, nchan, 0, session, offset, count),
            np.ascontiguousarray(samples, np.complex64).tobytes()]


def _parse(parts, nchan=None):
    """(kind, session, offset, samples (nchan, count), or an end frame's
    reason); ValueError saying why if the frame is malformed or does not
    have `nchan` channels."""
    if len(parts) != 2 or len(parts[0]) != HEADER.size:
        raise ValueError(f"{len(parts)} part(s), {len(parts[0]) if parts else 0}-byte header")
    magic, kind, channels, reason, session, offset, count = HEADER.unpack(parts[0])
    if magic != MAGIC or kind not in (DATA, END) or channels < 1:
        raise ValueError(f"bad header (magic {magic!r}, kind {kind}, {channels} channels)")
    if nchan is not None and channels != nchan:
        raise ValueError(f"{channels} channel(s), the node has {nchan}")
    if kind == END:
        return kind, session, offset, reason
    if len(parts[1]) != 8 * channels * count:
        raise ValueError(f"{len(parts[1])} bytes of samples for {channels} x {count}")
    return kind, session, offset, np.frombuffer(parts[1], np.complex64).reshape(channels, count)


def _unpack(parts, nchan=None):
    """_parse(parts, nchan), or None if the frame is malformed."""
    try:
        return _parse(parts, nchan)
    except ValueError:
        return None


def _short(value, limit=120):
    """repr(value) cut to `limit` characters (for messages about bad input)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _host_endpoint(endpoint, bound):
    """The endpoint a peer connects to: the configured host, the bound port."""
    host = endpoint[len("tcp://"):].rpartition(":")[0]
    return f"tcp://{host}:{bound.rpartition(':')[2]}"


# ---------------------------------------------------------------------------
# hub side
# ---------------------------------------------------------------------------

class _NodeLink:
    """Hub-side state of one node, shared by its feeder, its forwarder and the
    control thread (under `lock`)."""

    def __init__(self, index, node_id, nchan):
        self.index = index
        self.node_id = node_id
        self.nchan = nchan
        self.lock = threading.Lock()
        self.state = "pending"  # pending (before its first join), active, silent
        self.session = 0
        self.start = 0  # hub time of the session's sample 0
        self.fed = 0  # TX samples handed to the hub (zeros included)
        self.forwarded = 0  # RX samples taken from the hub (dropped included)
        self.last_tx = time.monotonic()
        self.blocking_since = None  # since when its TX is the oldest (watchdog)
        self.sessions = []  # one record per join
        self.events = []  # (wall s since start, event, hub sample, detail)
        self.notices = []  # end frames (session, offset, reason) its forwarder still owes
        self.malformed = 0  # TX frames dropped as malformed
        self.rx_endpoint = self.tx_endpoint = None


class hub_tx_feeder(gr.sync_block):
    """TX samples of one node for the hub: the node's frames in order, zeros
    while it is silent or before its session starts (see module doc)."""

    def __init__(self, server, link):
        gr.sync_block.__init__(self, name=f"hub_tx_feeder[{link.node_id}]", in_sig=None,
                               out_sig=[np.complex64] * link.nchan)
        self.server = server
        self.link = link
        self._log, _ = block_loggers(f"hub_tx_feeder[{link.node_id}]")
        self._socket = server.context.socket(zmq.PULL)
        port = self._socket.bind_to_random_port(server.bind_host)
        link.tx_endpoint = f"tcp://{server.host}:{port}"
        self._pending = None  # (session, samples) not yet copied out
        self._warn = RateLimitedWarning(GrLogAdapter(self._log), WARN_INTERVAL_S)

    def stop(self):
        self._socket.close(linger=0)
        return True

    def _receive(self):
        """One data frame of the current session (dropping others), or None."""
        if not self._socket.poll(POLL_MS):
            return None
        link = self.link
        try:
            frame = _parse(self._socket.recv_multipart(copy=True), link.nchan)
        except ValueError as exc:
            with link.lock:
                link.malformed += 1
            self._warn("%s", f"dropped a malformed TX frame ({exc})")
            return None
        with link.lock:
            kind, session, offset, samples = frame
            if link.state != "active" or session != link.session:
                return None  # a previous session's late frame
            link.last_tx = time.monotonic()
            if kind == END:
                self.server.silence(link, "left", "the node ended its stream")
                return None
            expected = link.fed - link.start
            if offset != expected:
                self.server.silence(link, "gap", f"TX frame at {offset}, expected {expected}")
                return None
            return session, samples

    def work(self, input_items, output_items):
        # A source that returns 0 is called again only after 250 ms, so wait
        # here (in slices) until there is something to give the hub.
        while not self.server.interrupted:
            m = self._produce(output_items)
            if m:
                return m
            if self.server.hub.receivers_done():
                return -1  # the run is over: nobody needs this node's TX any more
        return -1

    def _produce(self, output_items):
        n = len(output_items[0])
        link = self.link
        if self._pending is None:
            with link.lock:
                self.server.check_pending(link)
                m = 0
                if link.state == "silent":
                    # zeros, only as far as the others' TX (the air cannot pass it)
                    m = min(n, self.server.silence_room(link))
                elif link.state == "active" and link.fed < link.start:
                    m = min(n, link.start - link.fed)  # zeros up to a new session's start
                if m > 0:
                    for out in output_items:
                        out[:m] = 0
                    link.fed += m
                    return m
                pending = link.state == "pending"
                wait = pending or link.state == "silent"  # silent: ahead of the others
            if wait:
                time.sleep(POLL_MS / 1000.0 / (1 if pending else 10))
                return 0
            got = self._receive()
            if got is None:
                with link.lock:
                    self.server.check_silence(link)
                return 0
            self._pending = got
        session, samples = self._pending
        with link.lock:
            if link.state != "active" or link.session != session:
                self._pending = None
                return 0
            m = min(n, samples.shape[1])
            for ch, out in enumerate(output_items):
                out[:m] = samples[ch, :m]
            link.fed += m
            self._pending = None if m == samples.shape[1] else (session, samples[:, m:])
        return m


class hub_rx_forwarder(gr.sync_block):
    """RX samples of one node from the hub to the node's session (dropped
    while it is silent or before its session starts); an end frame after the
    run's last sample, and one to a session the hub declared silent or that
    another join replaced (link.notices)."""

    def __init__(self, server, link, nsamples):
        gr.sync_block.__init__(self, name=f"hub_rx_forwarder[{link.node_id}]",
                               in_sig=[np.complex64] * link.nchan, out_sig=None)
        self.server = server
        self.link = link
        self.nsamples = int(nsamples)
        self._socket = server.context.socket(zmq.PUSH)
        self._socket.setsockopt(zmq.SNDHWM, 64)
        port = self._socket.bind_to_random_port(server.bind_host)
        link.rx_endpoint = f"tcp://{server.host}:{port}"
        self._ended = False

    def _send(self, parts):
        """Send without blocking longer than POLL_MS; False if the node did not take it."""
        try:
            self._socket.send_multipart(parts, flags=zmq.NOBLOCK, copy=False)
            return True
        except zmq.Again:
            pass
        if self._socket.poll(POLL_MS, zmq.POLLOUT):
            try:
                self._socket.send_multipart(parts, flags=zmq.NOBLOCK, copy=False)
                return True
            except zmq.Again:
                pass
        return False

    def _notify(self, wait=False):
        """Send the end frames the hub owes ended sessions (caller holds
        link.lock). Without `wait` a node that does not take one now (it
        is not reading) gets it on a later call: the air does not wait."""
        link = self.link
        while link.notices:
            session, offset, reason = link.notices[0]
            parts = _pack(END, link.nchan, session, offset, reason=reason)
            if wait:
                if not self._send(parts):
                    return
            else:
                try:
                    self._socket.send_multipart(parts, flags=zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    return
            link.notices.pop(0)

    def _end(self):
        if self._ended:
            return
        self._ended = True
        link = self.link
        with link.lock:
            self._notify(wait=True)
            if link.state == "active":
                self._send(_pack(END, link.nchan, link.session, self.nsamples - link.start))

    def stop(self):
        self._end()
        self._socket.close(linger=200)
        return True

    def work(self, input_items, output_items):
        n = min(len(input_items[0]), MAX_FRAME)
        pos = self.nitems_read(0)
        link = self.link
        self.server.pace(pos)
        with link.lock:
            self.server.check_pending(link)
            pending = link.state == "pending"
            self._notify()
        if pending:
            time.sleep(POLL_MS / 1000.0)  # hold its RX until it joins or times out
            return 0
        with link.lock:
            if link.state != "active" or pos + n <= link.start:
                m = n  # nobody listens
            elif pos < link.start:
                m = link.start - pos  # up to the session's start
            else:
                frame = np.array([x[:n] for x in input_items], np.complex64)
                if not self._send(_pack(DATA, link.nchan, link.session, pos - link.start, frame)):
                    return 0
                m = n
            link.forwarded = pos + m
        if pos + m >= self.nsamples:
            self._end()
        return m


class HubServer:
    """The emulator as a service: a channel_hub from a testbed file, one
    feeder and one forwarder per node, and the join protocol.

    Args:
        testbed: a Testbed whose nodes are all `sim`.
        hub: the channel_hub (radio.make_hub(testbed)).
        nsamples: samples every receiver streams (the run's length).
        endpoint: control endpoint 'tcp://HOST:PORT' (joins); data sockets
            bind to random ports on the same interface.
        timeout: seconds without TX after which a node is declared silent.
        join_timeout: seconds the hub waits for every node's first join.
        rate: samples per second at most (0: as fast as possible).
    """

    def __init__(self, testbed, hub, nsamples, endpoint, timeout=2.0, join_timeout=30.0,
                 rate=0.0):
        from .cohere_python import virtual_radio_sink_c, virtual_radio_source_c

        self.testbed = testbed
        self.hub = hub
        self.nsamples = int(nsamples)
        self.endpoint = endpoint
        self.timeout = float(timeout)
        self.join_timeout = float(join_timeout)
        self.rate = float(rate)
        self.host = endpoint[len("tcp://"):].rpartition(":")[0]
        self.bind_host = f"tcp://{self.host}"
        self._log, self._debug = block_loggers("hub")
        self.context = zmq.Context.instance()
        self._control = self.context.socket(zmq.REP)
        self._control.setsockopt(zmq.LINGER, 0)
        try:
            self._control.bind(endpoint)
        except zmq.ZMQError as exc:
            raise HubError(f"hub: cannot listen on {endpoint}: {exc}") from None
        self.t0 = time.monotonic()
        self.interrupted = False  # set by interrupt(): Python work() loops return
        self._stream_t0 = None
        self._stop = threading.Event()
        self.bad_requests = 0  # control requests refused (malformed, unknown node, ...)
        self._warn_request = RateLimitedWarning(GrLogAdapter(self._log), WARN_INTERVAL_S)
        self.tb = gr.top_block("cohere_hub")
        self.links = []
        self._blocks = []
        for index, node in enumerate(testbed.nodes):
            link = _NodeLink(index, node.id, node.antennas)
            src = virtual_radio_source_c(hub, index, node.antennas, self.nsamples)
            fwd = hub_rx_forwarder(self, link, self.nsamples)
            feed = hub_tx_feeder(self, link)
            snk = virtual_radio_sink_c(hub, index, node.antennas)
            for ch in range(node.antennas):
                self.tb.connect((src, ch), (fwd, ch))
                self.tb.connect((feed, ch), (snk, ch))
            self.links.append(link)
            self._blocks += [src, fwd, feed, snk]
        self._thread = threading.Thread(target=self._serve, name="hub-control", daemon=True)

    # ----- events ---------------------------------------------------------------------
    def _event(self, link, what, sample, detail=""):
        t = time.monotonic() - self.t0
        link.events.append({"time_s": round(t, 3), "event": what, "sample": int(sample),
                            "detail": detail})
        self._log.info(f"node {link.node_id}: {what} at hub sample {sample}"
                       + (f" ({detail})" if detail else ""))

    def silence(self, link, why, detail):
        """Declare a node silent (caller holds link.lock). A node still
        running (silent, gap, replaced) gets an end frame saying so: its
        stream ends instead of waiting for samples that never come."""
        if link.state == "silent":
            return
        if link.state == "active" and why != "left":
            reason = END_REPLACED if why == "replaced" else END_SILENCED
            link.notices = link.notices[-3:] + [
                (link.session, max(0, link.forwarded - link.start), reason)]
        link.state = "silent"
        if link.sessions:
            link.sessions[-1]["end"] = link.fed
            link.sessions[-1]["ended_by"] = why
        self._event(link, why, link.fed, detail)

    def silence_room(self, link):
        """How many zeros a silent node may add now: up to SILENCE_AHEAD past
        the slowest other node that is not silent (the air cannot pass that
        node anyway) or, when every node is silent, past the run's end."""
        others = [x.fed for x in self.links if x is not link and x.state != "silent"]
        return min(others + [self.nsamples]) + SILENCE_AHEAD - link.fed

    def check_pending(self, link):
        """A node that never joined is silent after join_timeout (caller holds the lock)."""
        if link.state == "pending" and time.monotonic() - self.t0 > self.join_timeout:
            self.silence(link, "absent", f"no join within {self.join_timeout:g} s")

    def check_silence(self, link):
        """The watchdog (caller holds link.lock): a node is declared silent
        once it has held the air back (its TX is the oldest of all active
        nodes) for `timeout` s without delivering anything. Only the time as
        the bottleneck counts: nodes waiting behind a dead one are not
        blamed for it."""
        if link.state != "active" or any(x.state == "pending" for x in self.links):
            link.blocking_since = None
            return  # the air does not move before every node has joined or timed out
        now = time.monotonic()
        if any(other.fed < link.fed for other in self.links
               if other is not link and other.state == "active"):
            link.blocking_since = None
            return
        if link.blocking_since is None:
            link.blocking_since = now
        quiet = now - max(link.last_tx, link.blocking_since)
        if quiet >= self.timeout:
            self.silence(link, "silent", f"no TX for {now - link.last_tx:.1f} s")

    def pace(self, position):
        """Hold the emulation at `rate` samples per second (if set)."""
        if self.rate <= 0:
            return
        if self._stream_t0 is None:
            self._stream_t0 = time.monotonic()
        ahead = position / self.rate - (time.monotonic() - self._stream_t0)
        if ahead > 0:
            time.sleep(min(ahead, POLL_MS / 1000.0))

    # ----- joins -------------------------------------------------------------------------
    def _join(self, request):
        try:
            node_id = int(request["id"])
            nchan = int(request.get("nchan", 1))
        except (KeyError, TypeError, ValueError, OverflowError):
            return {"ok": False, "error": f"malformed join request {_short(request)}"}
        link = next((x for x in self.links if x.node_id == node_id), None)
        if link is None:
            return {"ok": False, "error": f"no node with id {node_id} in testbed "
                    f"{self.testbed.name!r} (ids: {[x.node_id for x in self.links]})"}
        if nchan != link.nchan:
            return {"ok": False, "error": f"node {node_id} has {link.nchan} antennas in the "
                    f"testbed, the node asked for {nchan}"}
        with link.lock:
            if link.state == "active":
                self.silence(link, "replaced", "the node joined again")
            start = max(link.fed, link.forwarded)
            link.state = "active"
            link.session += 1
            link.start = start
            link.last_tx = time.monotonic()
            link.sessions.append({"session": link.session, "start": start,
                                  "joined_s": round(time.monotonic() - self.t0, 3)})
            self._event(link, "joined" if link.session == 1 else "rejoined", start,
                        f"session {link.session}")
            return {"ok": True, "id": node_id, "index": link.index, "session": link.session,
                    "start": start, "rx": link.rx_endpoint, "tx": link.tx_endpoint,
                    "fs": self.hub.samp_rate(), "fc": self.hub.center_freq(),
                    "latency": int(self.hub.latency(link.index)), "nsamples": self.nsamples,
                    "silence_limit": self.join_timeout + 10 * self.timeout}

    def _request(self, parts):
        """The reply to one control request (all its frames)."""
        if len(parts) != 1:
            return {"ok": False, "error": f"a request is one frame, got {len(parts)}"}
        try:
            request = json.loads(parts[0])
        except ValueError:
            return {"ok": False, "error": f"not a JSON request: {_short(parts[0])}"}
        if isinstance(request, dict) and request.get("op") == "join":
            return self._join(request)
        return {"ok": False, "error": f"unknown request {_short(request)}"}

    def _serve(self):
        """Answer every request, a bad one with an error: the REP socket
        must reply before it can receive again, and a bad request never
        ends this thread."""
        while not self._stop.is_set():
            try:
                if not self._control.poll(100):
                    continue
                parts = self._control.recv_multipart()
            except zmq.ZMQError as exc:
                self._warn_request("%s", f"control socket: {exc}")
                time.sleep(0.1)
                continue
            try:
                reply = self._request(parts)
                data = json.dumps(reply).encode()
            except Exception as exc:  # noqa: BLE001 - answered and logged, never fatal
                reply = {"ok": False, "error": f"bad request ({type(exc).__name__}: {exc})"}
                data = json.dumps(reply).encode()
            if not reply.get("ok"):
                self.bad_requests += 1
                self._warn_request("%s", f"refused a control request: {reply['error']}")
            try:
                self._control.send(data)
            except zmq.ZMQError as exc:
                self._warn_request("%s", f"control socket: cannot reply: {exc}")

    # ----- run -----------------------------------------------------------------------------
    def start_control(self):
        """Answer joins (the flowgraph self.tb is started by the caller)."""
        self._thread.start()

    def interrupt(self):
        """Make the feeders' work() return so that tb.stop() can finish."""
        self.interrupted = True

    def close(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(1.0)
        self._control.close(linger=0)

    def summary(self):
        """Per node: sessions, events, TX/RX positions."""
        return [{"id": x.node_id, "index": x.index, "state": x.state, "sessions": x.sessions,
                 "events": x.events, "tx_samples": int(x.fed), "rx_samples": int(x.forwarded),
                 "malformed_frames": int(x.malformed)}
                for x in self.links]


# ---------------------------------------------------------------------------
# node side
# ---------------------------------------------------------------------------

class HubConnection:
    """A node's link to a remote hub: its `sim` radio across processes.

    Build the flowgraph with `source` and `sink`, then join() right before
    starting it (the hub's silence watchdog runs from the join).
    """

    def __init__(self, endpoint, node_id, nchan=1):
        self.endpoint = endpoint
        self.node_id = int(node_id)
        self.nchan = int(nchan)
        self.context = zmq.Context.instance()
        self.session = None  # the join reply
        self.interrupted = False
        self.finished = threading.Event()  # set when the TX stream has ended
        self.source = hub_rx_source(self)
        self.sink = hub_tx_sink(self)

    def interrupt(self):
        """Make the blocks' work() return so that tb.stop() can finish."""
        self.interrupted = True

    def join(self, timeout=30.0):
        """Join the hub (retrying until `timeout` s); returns the reply dict."""
        deadline = time.monotonic() + float(timeout)
        request = json.dumps({"op": "join", "id": self.node_id, "nchan": self.nchan}).encode()
        while True:
            sock = self.context.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(self.endpoint)
            try:
                sock.send(request)
                if sock.poll(1000):
                    reply = json.loads(sock.recv())
                    break
            finally:
                sock.close()
            if time.monotonic() > deadline:
                raise HubError(f"sim: no hub answers at {self.endpoint} within {timeout:g} s "
                               f"(is `cohere hub` running with this testbed?)")
        if not reply.get("ok"):
            raise HubError(f"sim: the hub at {self.endpoint} refused node {self.node_id}: "
                           f"{reply.get('error')}")
        self.session = reply
        return reply


class hub_rx_source(gr.sync_block):
    """The node's RX stream from the hub (ends with the hub's end frame, or
    when the hub has been silent for the join reply's silence_limit).
    `ended_by` says how: "hub" (the run's end) is the only normal end."""

    def __init__(self, conn):
        gr.sync_block.__init__(self, name="hub_rx_source", in_sig=None,
                               out_sig=[np.complex64] * conn.nchan)
        self.conn = conn
        self._log, _ = block_loggers(f"hub_rx_source[{conn.node_id}]")
        self._socket = None
        self._pending = None
        self._expected = 0
        self._last = None
        self.ended_by = None  # "hub" (end frame), "silenced", "replaced", "silence", "gap"
        self.malformed = 0  # RX frames dropped as malformed
        self._warn = RateLimitedWarning(GrLogAdapter(self._log), WARN_INTERVAL_S)
        self._tags_done = False

    def start(self):
        if self.conn.session is None:
            raise HubError("hub_rx_source: join() the hub before starting the flowgraph")
        self._socket = self.conn.context.socket(zmq.PULL)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.connect(self.conn.session["rx"])
        self._last = time.monotonic()
        return True

    def stop(self):
        if self._socket is not None:
            self._socket.close()
        return True

    def _tags(self):
        s = self.conn.session
        t = s["start"] / s["fs"]
        value = pmt.make_tuple(pmt.from_uint64(int(t)), pmt.from_double(t - int(t)))
        for ch in range(self.conn.nchan):
            self.add_item_tag(ch, 0, pmt.intern("rx_time"), value)
            self.add_item_tag(ch, 0, pmt.intern("rx_rate"), pmt.from_double(s["fs"]))
            self.add_item_tag(ch, 0, pmt.intern("rx_freq"), pmt.from_double(s["fc"]))
        self._tags_done = True

    def work(self, input_items, output_items):
        if not self._tags_done:
            self._tags()
        session = self.conn.session
        # a source that returns 0 is called again only after 250 ms: wait here
        while self._pending is None:
            if self.conn.interrupted:
                self.ended_by = "interrupted"
                return -1
            if not self._socket.poll(POLL_MS):
                if time.monotonic() - self._last > session["silence_limit"]:
                    self._log.error(f"no samples from the hub for {session['silence_limit']:g} s: "
                                    f"ending")
                    self.ended_by = "silence"
                    return -1
                continue
            try:
                frame = _parse(self._socket.recv_multipart(), self.conn.nchan)
            except ValueError as exc:
                self.malformed += 1
                self._warn("%s", f"dropped a malformed RX frame ({exc})")
                continue
            if frame[1] != session["session"]:
                continue
            self._last = time.monotonic()
            kind, _, offset, payload = frame  # an end frame's payload is its reason
            if kind == END:
                self.ended_by = END_REASONS.get(payload, f"hub end {payload}")
                if self.ended_by != "hub":
                    self._log.error(f"the hub ended this session ({self.ended_by}): ending")
                return -1
            if offset != self._expected:
                self._log.error(f"RX frame at {offset}, expected {self._expected}: ending")
                self.ended_by = "gap"
                return -1
            self._pending = payload
            self._expected += payload.shape[1]
        n = min(len(output_items[0]), self._pending.shape[1])
        for ch, out in enumerate(output_items):
            out[:n] = self._pending[ch, :n]
        self._pending = None if n == self._pending.shape[1] else self._pending[:, n:]
        return n


class hub_tx_sink(gr.sync_block):
    """The node's TX stream to the hub (an end frame when the stream ends)."""

    def __init__(self, conn):
        gr.sync_block.__init__(self, name="hub_tx_sink", in_sig=[np.complex64] * conn.nchan,
                               out_sig=None)
        self.conn = conn
        self._socket = None

    def start(self):
        if self.conn.session is None:
            raise HubError("hub_tx_sink: join() the hub before starting the flowgraph")
        self._socket = self.conn.context.socket(zmq.PUSH)
        self._socket.setsockopt(zmq.SNDHWM, 64)
        self._socket.connect(self.conn.session["tx"])
        return True

    def stop(self):
        if self._socket is not None:
            s = self.conn.session
            try:
                self._socket.send_multipart(_pack(END, self.conn.nchan, s["session"],
                                                  self.nitems_read(0)), flags=zmq.NOBLOCK)
            except zmq.Again:
                pass
            self._socket.close(linger=200)
        self.conn.finished.set()
        return True

    def work(self, input_items, output_items):
        n = min(len(input_items[0]), MAX_FRAME)
        frame = np.array([x[:n] for x in input_items], np.complex64)
        parts = _pack(DATA, self.conn.nchan, self.conn.session["session"], self.nitems_read(0),
                      frame)
        if not self._socket.poll(POLL_MS, zmq.POLLOUT):
            return 0
        self._socket.send_multipart(parts, copy=False)
        return n
