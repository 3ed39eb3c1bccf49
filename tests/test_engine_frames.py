"""The frames between the server and its workers (``frame``, ``pop_frame``, ``FrameReader``):
whole, split, sent ahead, cut off."""

from __future__ import annotations

import socket
import threading

from sovkg.engine.worker import FrameReader, frame, pop_frame, write_frame


def test_pop_frame_takes_whole_frames_only_and_leaves_the_rest() -> None:
    data = frame(("a", 1)) + frame(("b", 2))
    buf = bytearray()
    for i, byte in enumerate(data[:-1]):  # every prefix short of the second frame's last byte
        buf.append(byte)
        whole, message = pop_frame(buf)
        if i == len(frame(("a", 1))) - 1:
            assert (whole, message) == (True, ("a", 1))
            assert buf == b""
        else:
            assert (whole, message) == (False, None)
    buf.append(data[-1])
    assert pop_frame(buf) == (True, ("b", 2))
    assert buf == b""


def test_frames_sent_ahead_in_one_write_are_read_one_by_one() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"".join(frame((i, "query", "x" * i)) for i in range(5)))
        reader = FrameReader(b)
        assert [reader.read() for _ in range(5)] == [(i, "query", "x" * i) for i in range(5)]


def test_a_frame_that_arrives_byte_by_byte_is_read_whole() -> None:
    a, b = socket.socketpair()
    data = frame({"big": "y" * 200_000})

    def trickle() -> None:
        for i in range(0, 64):  # the head and the first bytes one at a time, then the rest
            a.sendall(data[i : i + 1])
        a.sendall(data[64:])

    with a, b:
        t = threading.Thread(target=trickle)
        t.start()
        assert FrameReader(b).read() == {"big": "y" * 200_000}
        t.join()


def test_a_frame_larger_than_a_megabyte_is_read_whole() -> None:
    a, b = socket.socketpair()
    message = ("z" * (3 << 20), 7)
    with a, b:
        t = threading.Thread(target=write_frame, args=(a, message))
        t.start()
        assert FrameReader(b).read() == message
        t.join()


def test_the_other_side_closing_mid_frame_or_between_frames_reads_none() -> None:
    a, b = socket.socketpair()
    with b:
        a.sendall(frame("whole") + frame("cut")[:7])
        a.close()
        reader = FrameReader(b)
        assert reader.read() == "whole"
        assert reader.read() is None
    a, b = socket.socketpair()
    with b:
        a.close()
        assert FrameReader(b).read() is None
